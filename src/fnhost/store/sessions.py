"""Queries on sessions."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fnhost.store.tables import Session, table_of

SESSIONS = table_of(Session)
# Built once: most calls create a session and bind it.
_INSERT = insert(SESSIONS).returning(*SESSIONS.c)
_BY_ID = select(SESSIONS).where(SESSIONS.c.id == bindparam("session_id"))


def insert_row(connection: Connection, **values: Any) -> Row[Any]:
    return connection.execute(_INSERT, values).one()


def by_id(connection: Connection, *, session_id: int) -> Row[Any] | None:
    return connection.execute(_BY_ID, {"session_id": session_id}).one_or_none()


def bind_nonce(
    connection: Connection, *, project: str, nonce_hash: str, now: int, **values: Any
) -> Row[Any] | None:
    """Set `values` on the READY, unexpired session of the nonce; None if there is none."""
    statement = (
        update(SESSIONS)
        .where(
            SESSIONS.c.project == project,
            SESSIONS.c.nonce_hash == nonce_hash,
            SESSIONS.c.status == "READY",
            SESSIONS.c.expiration_time > now,
        )
        .values(**values)
        .returning(*SESSIONS.c)
    )
    return connection.execute(statement).one_or_none()


async def get_many(session: AsyncSession, *, project: str, ids: Sequence[int]) -> list[Session]:
    result = await session.execute(
        select(Session).where(Session.project == project, Session.id.in_(ids))
    )
    return list(result.scalars())


async def set_expiration(
    session: AsyncSession, *, session_ids: Sequence[int], expiration_time: int
) -> None:
    await session.execute(
        update(Session).where(Session.id.in_(session_ids)).values(expiration_time=expiration_time)
    )
