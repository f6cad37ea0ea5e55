"""Queries on web console sessions (sign-ins), as typed records."""

from dataclasses import dataclass

from sqlalchemy import bindparam, delete, insert, or_, select, update

from fnhost.store.engine import Tx
from fnhost.store.rows import record
from fnhost.store.tables import ConsoleSession, table_of

CONSOLE_SESSIONS = table_of(ConsoleSession)
# Built once: every console request looks its session up.
_BY_HASH = select(*(column for column in CONSOLE_SESSIONS.c if column.name != "id_hash")).where(
    CONSOLE_SESSIONS.c.id_hash == bindparam("id_hash")
)


@dataclass(frozen=True, slots=True)
class ConsoleSessionRecord:
    id: int
    subject: str
    credential_sealed: str
    created_time: int
    last_seen_time: int
    expires_time: int


def insert_session(
    tx: Tx,
    *,
    id_hash: str,
    subject: str,
    credential_sealed: str,
    created_time: int,
    expires_time: int,
) -> None:
    tx.execute(
        insert(CONSOLE_SESSIONS),
        {
            "id_hash": id_hash,
            "subject": subject,
            "credential_sealed": credential_sealed,
            "created_time": created_time,
            "last_seen_time": created_time,
            "expires_time": expires_time,
        },
    )


def by_hash(tx: Tx, *, id_hash: str) -> ConsoleSessionRecord | None:
    row = tx.execute(_BY_HASH, {"id_hash": id_hash}).one_or_none()
    return None if row is None else record(ConsoleSessionRecord, row)


def touch(tx: Tx, *, session_id: int, at: int) -> None:
    tx.execute(
        update(CONSOLE_SESSIONS)
        .where(CONSOLE_SESSIONS.c.id == session_id)
        .values(last_seen_time=at)
    )


def delete_by_hash(tx: Tx, *, id_hash: str) -> None:
    tx.execute(delete(CONSOLE_SESSIONS).where(CONSOLE_SESSIONS.c.id_hash == id_hash))


def delete_ended(tx: Tx, *, now: int, idle_before: int) -> int:
    """Delete the sessions past their absolute expiry or idle since before `idle_before`."""
    statement = delete(CONSOLE_SESSIONS).where(
        or_(
            CONSOLE_SESSIONS.c.expires_time <= now,
            CONSOLE_SESSIONS.c.last_seen_time < idle_before,
        )
    )
    return tx.execute(statement).rowcount
