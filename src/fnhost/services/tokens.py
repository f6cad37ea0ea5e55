"""Bearer tokens fnhost issues: the admin token, and tokens issued with `fnhost token`."""

from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from fnhost import clock, errors
from fnhost.auth import capabilities, tokens
from fnhost.services import identity
from fnhost.services import projects as projects_service
from fnhost.services.platform import Platform
from fnhost.store import tokens as tokens_store


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


async def register_admin(platform: Platform, *, token: str) -> None:
    """Make `token` the admin: every capability in every project (also those a newer fnhost
    knows, for an admin token registered by an older one)."""
    everything = list(capabilities.KNOWN)
    await identity.register_token(
        platform,
        token=token,
        kind=identity.ADMIN,
        subject=identity.ADMIN_SUBJECT,
        projects=None,
        capabilities_=everything,
    )
    await platform.db.run_write(
        partial(
            tokens_store.set_capabilities, token_hash=tokens.digest(token), capabilities=everything
        )
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
    await identity.register_token(
        platform,
        token=token,
        kind=identity.ISSUED,
        subject=subject,
        projects=None if projects is None else projects_service.check_names(projects),
        capabilities_=sorted({capabilities.parse(c) for c in capabilities_}),
        expires_ms=expires,
        description=description,
    )
    return token


async def list_issued(platform: Platform) -> list[IssuedToken]:
    rows = await platform.db.run_read(partial(tokens_store.list_kind, kind=identity.ISSUED))
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
    revoke = partial(tokens_store.revoke, token_id=token_id, kind=identity.ISSUED)
    if not await platform.db.run_write(revoke):
        raise errors.NotFound(f"No issued token with id {token_id}")
