"""fnhost-issued bearer tokens: random strings of which only a SHA-256 is stored."""

import hashlib
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from fnhost.auth.principal import Principal
from fnhost.store import tokens as tokens_store


def generate() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def resolve(session: AsyncSession, token: str, *, now_ms: int) -> Principal | None:
    """The principal behind `token`, or None when it is unknown, revoked or expired."""
    row = await tokens_store.get_by_hash(session, token_hash=digest(token))
    if row is None or row.revoked:
        return None
    if row.expires_time is not None and row.expires_time <= now_ms:
        return None
    return Principal(
        subject=row.subject,
        projects=None if row.projects is None else frozenset(row.projects),
        capabilities=frozenset(row.capabilities),
        session_id=row.session_id,
    )
