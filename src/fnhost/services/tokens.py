"""Bearer tokens: authenticate a request, issue and register tokens, describe the caller."""

from fnhost import clock, errors
from fnhost.auth import capabilities, tokens
from fnhost.auth.principal import Principal
from fnhost.schemas.sessions import ProjectAccess, TokenInspection
from fnhost.services.platform import Platform
from fnhost.store import projects as projects_store
from fnhost.store import tokens as tokens_store

ADMIN_SUBJECT = "fnhost-admin"


async def authenticate(platform: Platform, token: str | None) -> Principal:
    """The principal behind a bearer token; Unauthenticated when missing, unknown or expired."""
    if not token:
        raise errors.Unauthenticated("Missing bearer token: send 'Authorization: Bearer <token>'")
    async with platform.db.read() as session:
        principal = await tokens.resolve(session, token, now_ms=clock.to_ms(clock.now()))
    if principal is None:
        raise errors.Unauthenticated("Invalid, revoked or expired bearer token")
    return principal


async def register(
    platform: Platform,
    *,
    token: str,
    kind: str,
    subject: str,
    projects: list[str] | None,
    capabilities_: list[str],
    expires_ms: int | None = None,
    description: str | None = None,
) -> None:
    """Store a token's hash with what it grants; an already registered token is left as it is."""
    async with platform.db.write() as session:
        if await tokens_store.get_by_hash(session, token_hash=tokens.digest(token)):
            return
        await tokens_store.insert(
            session,
            token_hash=tokens.digest(token),
            kind=kind,
            subject=subject,
            projects=projects,
            capabilities=capabilities_,
            description=description,
            created_time=clock.to_ms(clock.now()),
            expires_time=expires_ms,
        )


async def register_admin(platform: Platform, *, token: str) -> None:
    """Make `token` the admin: every capability in every project."""
    await register(
        platform,
        token=token,
        kind="admin",
        subject=ADMIN_SUBJECT,
        projects=None,
        capabilities_=list(capabilities.ALL),
    )


async def inspect(platform: Platform, principal: Principal) -> TokenInspection:
    """GET /token/inspect: the caller's subject, projects and capabilities."""
    if principal.projects is not None:
        projects = sorted(principal.projects)
    else:
        async with platform.db.read() as session:
            projects = await projects_store.known(session)
    return TokenInspection(
        subject=principal.subject,
        projects=[ProjectAccess(project_url_name=p) for p in projects],
        capabilities=capabilities.as_cdf(principal.capabilities),
    )
