"""Sessions: their rows, and the queries on them."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, and_, bindparam, delete, insert, or_, select, update

from fnhost.store.engine import Tx
from fnhost.store.rows import record
from fnhost.store.tables import Session, table_of

SESSIONS = table_of(Session)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """An identity captured behind a one-time nonce (only the nonce's hash is kept)."""

    id: int
    project: str
    type: str
    status: str
    nonce_hash: str
    subject: str
    capabilities: list[str]
    client_id: str | None
    creation_time: int
    expiration_time: int
    upstream_credentials_sealed: str | None


def session_record(row: Row[Any]) -> SessionRecord:
    return record(SessionRecord, row)


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


def insert_one(tx: Tx, **values: Any) -> SessionRecord:
    return session_record(tx.execute(_INSERT, values).one())


def by_id(tx: Tx, *, session_id: int) -> SessionRecord | None:
    row = tx.execute(_BY_ID, {"session_id": session_id}).one_or_none()
    return None if row is None else session_record(row)


def bind_nonce(
    tx: Tx, *, project: str, nonce_hash: str, now: int, held_until: int | None
) -> SessionRecord | None:
    """Make the READY, unexpired session of the nonce ACTIVE (and held until `held_until`, if
    given); None if there is no such session."""
    statement = _BIND if held_until is None else _BIND_HELD
    params = {
        "in_project": project,
        "of_nonce_hash": nonce_hash,
        "now": now,
        "held_until": held_until,
    }
    row = tx.execute(statement, params).one_or_none()
    return None if row is None else session_record(row)


def delete_expired_before(tx: Tx, *, cutoff: int, limit: int) -> int:
    """Delete up to `limit` sessions that expired before `cutoff`; returns how many."""
    ids = select(SESSIONS.c.id).where(SESSIONS.c.expiration_time < cutoff)
    statement = delete(SESSIONS).where(SESSIONS.c.id.in_(ids.limit(limit).scalar_subquery()))
    return tx.execute(statement).rowcount


def get_many(tx: Tx, *, project: str, ids: Sequence[int]) -> list[SessionRecord]:
    query = select(SESSIONS).where(SESSIONS.c.project == project, SESSIONS.c.id.in_(ids))
    return [session_record(row) for row in tx.execute(query)]


@dataclass(frozen=True, slots=True)
class SessionQuery:
    """A page of a project's sessions in id order, after `after_id`, with `status` as clients
    see it: a session still `live` (READY, ACTIVE) past its expiration time is EXPIRED."""

    project: str
    status: str | None
    live: tuple[str, ...]
    now_ms: int
    after_id: int | None
    limit: int


def list_page(tx: Tx, query: SessionQuery) -> list[SessionRecord]:
    conditions = [SESSIONS.c.project == query.project]
    expired = SESSIONS.c.expiration_time <= query.now_ms
    if query.status in query.live:
        conditions += [SESSIONS.c.status == query.status, ~expired]
    elif query.status == "EXPIRED":
        conditions.append(
            or_(SESSIONS.c.status == "EXPIRED", and_(SESSIONS.c.status.in_(query.live), expired))
        )
    elif query.status is not None:
        conditions.append(SESSIONS.c.status == query.status)
    if query.after_id is not None:
        conditions.append(SESSIONS.c.id > query.after_id)
    statement = select(SESSIONS).where(*conditions).order_by(SESSIONS.c.id).limit(query.limit)
    return [session_record(row) for row in tx.execute(statement)]


def set_status(tx: Tx, *, project: str, ids: Sequence[int], status: str) -> None:
    statement = (
        update(SESSIONS)
        .where(SESSIONS.c.project == project, SESSIONS.c.id.in_(ids))
        .values(status=status)
    )
    tx.execute(statement)


def set_expiration(tx: Tx, *, session_ids: Sequence[int], expiration_time: int) -> None:
    statement = (
        update(SESSIONS)
        .where(SESSIONS.c.id.in_(session_ids))
        .values(expiration_time=expiration_time)
    )
    tx.execute(statement)
