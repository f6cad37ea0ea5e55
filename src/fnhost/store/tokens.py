"""Queries on issued tokens."""

from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fnhost.store.tables import Token, table_of

TOKENS = table_of(Token)
# Built once: every request authenticates, and building a statement costs more than running it.
_BY_HASH = select(TOKENS).where(TOKENS.c.token_hash == bindparam("token_hash"))


def insert_row(connection: Connection, **values: Any) -> None:
    connection.execute(insert(TOKENS), values)


def by_hash(connection: Connection, *, token_hash: str) -> Row[Any] | None:
    return connection.execute(_BY_HASH, {"token_hash": token_hash}).one_or_none()


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
