"""Queries on sessions."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fnhost.store.tables import Session, table_of

SESSIONS = table_of(Session)
# Built once: most calls create a session and bind it.
_INSERT = insert(SESSIONS).returning(*SESSIONS.c)
_BY_ID = select(SESSIONS).where(SESSIONS.c.id == bindparam("session_id"))
_BIND = (
    update(SESSIONS)
    .where(
        # Not named after columns: an UPDATE keeps those names for its SET clause.
        SESSIONS.c.project == bindparam("in_project"),
        SESSIONS.c.nonce_hash == bindparam("of_nonce_hash"),
        SESSIONS.c.status == "READY",
        SESSIONS.c.expiration_time > bindparam("now"),
    )
    .values(status="ACTIVE")
    .returning(*SESSIONS.c)
)
_BIND_HELD = _BIND.values(expiration_time=bindparam("held_until"))


def insert_row(connection: Connection, **values: Any) -> Row[Any]:
    return connection.execute(_INSERT, values).one()


def by_id(connection: Connection, *, session_id: int) -> Row[Any] | None:
    return connection.execute(_BY_ID, {"session_id": session_id}).one_or_none()


def bind_nonce(
    connection: Connection, *, project: str, nonce_hash: str, now: int, held_until: int | None
) -> Row[Any] | None:
    """Make the READY, unexpired session of the nonce ACTIVE (and held until `held_until`, if
    given); None if there is no such session."""
    statement = _BIND if held_until is None else _BIND_HELD
    params = {
        "in_project": project,
        "of_nonce_hash": nonce_hash,
        "now": now,
        "held_until": held_until,
    }
    return connection.execute(statement, params).one_or_none()


def delete_expired_before(connection: Connection, *, cutoff: int, limit: int) -> int:
    """Delete up to `limit` sessions that expired before `cutoff`; returns how many."""
    ids = select(SESSIONS.c.id).where(SESSIONS.c.expiration_time < cutoff)
    statement = delete(SESSIONS).where(SESSIONS.c.id.in_(ids.limit(limit).scalar_subquery()))
    return connection.execute(statement).rowcount


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
