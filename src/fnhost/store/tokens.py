"""Queries on issued tokens."""

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fnhost.store.tables import Token


async def insert(session: AsyncSession, **values: Any) -> Token:
    row = Token(**values)
    session.add(row)
    await session.flush()
    return row


async def get_by_hash(session: AsyncSession, *, token_hash: str) -> Token | None:
    result = await session.execute(select(Token).where(Token.token_hash == token_hash))
    return result.scalar_one_or_none()


async def list_kind(session: AsyncSession, *, kind: str) -> list[Token]:
    result = await session.execute(select(Token).where(Token.kind == kind).order_by(Token.id))
    return list(result.scalars())


async def revoke(session: AsyncSession, *, token_id: int, kind: str) -> bool:
    result = await session.execute(
        update(Token).where(Token.id == token_id, Token.kind == kind).values(revoked=True)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def revoke_for_subject(session: AsyncSession, *, kind: str, subject: str) -> None:
    await session.execute(
        update(Token).where(Token.kind == kind, Token.subject == subject).values(revoked=True)
    )


async def delete_expired(session: AsyncSession, *, kind: str, now_ms: int) -> None:
    await session.execute(delete(Token).where(Token.kind == kind, Token.expires_time <= now_ms))
