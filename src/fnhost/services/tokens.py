"""Bearer tokens: authenticate a request, issue and register tokens, describe the caller."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Row

from fnhost import clock, errors
from fnhost.auth import call_tokens, capabilities, tokens
from fnhost.auth.principal import Principal
from fnhost.schemas.sessions import ProjectAccess, TokenInspection
from fnhost.services import sessions as sessions_service
from fnhost.services.platform import Platform
from fnhost.store import calls as calls_store
from fnhost.store import projects as projects_store
from fnhost.store import tokens as tokens_store

ADMIN_SUBJECT = "fnhost-admin"
ISSUED = "issued"


@dataclass(frozen=True)
class IssuedToken:
    """What `fnhost token list` shows of a token (never the token itself)."""

    id: int
    subject: str
    projects: list[str] | None
    capabilities: list[str]
    created_time: int
    expires_time: int | None
    revoked: bool
    description: str | None


async def authenticate(platform: Platform, token: str | None) -> Principal:
    """The principal behind a bearer token; Unauthenticated when missing, unknown or expired."""
    if not token:
        raise errors.Unauthenticated("Missing bearer token: send 'Authorization: Bearer <token>'")
    if platform.oidc is not None and tokens.looks_like_jwt(token):
        return await platform.oidc.verify(token)
    if call_tokens.is_call_token(token):
        return await _call_principal(platform, token)
    now_ms = clock.to_ms(clock.now())
    principal = await platform.db.run_read(
        lambda connection: tokens.resolve(connection, token, now_ms=now_ms)
    )
    if principal is None:
        raise errors.Unauthenticated("Invalid, revoked or expired bearer token")
    return principal


async def _call_principal(platform: Platform, token: str) -> Principal:
    """A running call's client: its session's identity, in the session's project only."""
    now = clock.to_ms(clock.now())
    claims = call_tokens.verify(platform.secrets_box.signing_key, token, now_ms=now)
    if claims is None:
        raise errors.Unauthenticated("Invalid or expired call token")

    def check(connection: Connection) -> Row[Any]:
        if not calls_store.is_running(connection, call_id=claims.call_id):
            raise errors.Unauthenticated("The call this token belongs to has ended")
        try:
            return sessions_service.usable(connection, session_id=claims.session_id)
        except sessions_service.SessionUnusable as error:
            raise errors.Unauthenticated(error.message) from None

    row = await platform.db.run_read(check)
    return Principal.of(
        row.subject,
        projects=frozenset([row.project]),
        capabilities=frozenset(row.capabilities),
        session_id=row.id,
    )


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
    token_hash = tokens.digest(token)
    created = clock.to_ms(clock.now())

    def store(connection: Connection) -> None:
        if tokens_store.by_hash(connection, token_hash=token_hash) is None:
            tokens_store.insert_row(
                connection,
                token_hash=token_hash,
                kind=kind,
                subject=subject,
                projects=projects,
                capabilities=capabilities_,
                description=description,
                created_time=created,
                expires_time=expires_ms,
                revoked=False,
            )

    await platform.db.run_write(store)


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


async def issue(
    platform: Platform,
    *,
    subject: str,
    projects: list[str] | None,
    capabilities_: list[str],
    expires_in: timedelta | None,
    description: str | None = None,
) -> str:
    """A new random token with these grants; only its hash is kept."""
    if not capabilities_:
        raise errors.InvalidInput("A token needs at least one capability")
    token = tokens.generate()
    expires = clock.to_ms(clock.now() + expires_in) if expires_in is not None else None
    await register(
        platform,
        token=token,
        kind=ISSUED,
        subject=subject,
        projects=None if projects is None else sorted(set(projects)),
        capabilities_=sorted({capabilities.parse(c) for c in capabilities_}),
        expires_ms=expires,
        description=description,
    )
    return token


async def list_issued(platform: Platform) -> list[IssuedToken]:
    async with platform.db.read() as session:
        rows = await tokens_store.list_kind(session, kind=ISSUED)
    return [
        IssuedToken(
            id=row.id,
            subject=row.subject,
            projects=row.projects,
            capabilities=row.capabilities,
            created_time=row.created_time,
            expires_time=row.expires_time,
            revoked=row.revoked,
            description=row.description,
        )
        for row in rows
    ]


async def revoke_issued(platform: Platform, *, token_id: int) -> None:
    """Revoke an issued token: it stops working on its next request."""
    async with platform.db.write() as session:
        if not await tokens_store.revoke(session, token_id=token_id, kind=ISSUED):
            raise errors.NotFound(f"No issued token with id {token_id}")


async def inspect(platform: Platform, principal: Principal) -> TokenInspection:
    """GET /token/inspect: the caller's subject, projects and capabilities."""
    projects = set(principal.projects)
    if principal.all_projects:
        async with platform.db.read() as session:
            projects |= set(await projects_store.known(session))
    return TokenInspection(
        subject=principal.subject,
        projects=[ProjectAccess(project_url_name=p) for p in sorted(projects)],
        capabilities=[
            entry
            for grant in principal.grants
            for entry in capabilities.as_cdf(grant.capabilities, grant.projects)
        ],
    )
