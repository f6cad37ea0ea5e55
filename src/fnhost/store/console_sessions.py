"""Queries on web console sessions (sign-ins), as typed records."""

from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, insert, or_, select, update

from fnhost.store.tables import ConsoleSession, table_of

CONSOLE_SESSIONS = table_of(ConsoleSession)
# Built once: every console request looks its session up.
_BY_HASH = select(CONSOLE_SESSIONS).where(CONSOLE_SESSIONS.c.id_hash == bindparam("id_hash"))


@dataclass(frozen=True)
class ConsoleSessionRecord:
    id: int
    subject: str
    credential_sealed: str
    created_time: int
    last_seen_time: int
    expires_time: int


def insert_session(
    connection: Connection,
    *,
    id_hash: str,
    subject: str,
    credential_sealed: str,
    created_time: int,
    expires_time: int,
) -> None:
    connection.execute(
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


def by_hash(connection: Connection, *, id_hash: str) -> ConsoleSessionRecord | None:
    row = connection.execute(_BY_HASH, {"id_hash": id_hash}).one_or_none()
    if row is None:
        return None
    return ConsoleSessionRecord(
        id=row.id,
        subject=row.subject,
        credential_sealed=row.credential_sealed,
        created_time=row.created_time,
        last_seen_time=row.last_seen_time,
        expires_time=row.expires_time,
    )


def touch(connection: Connection, *, session_id: int, at: int) -> None:
    connection.execute(
        update(CONSOLE_SESSIONS)
        .where(CONSOLE_SESSIONS.c.id == session_id)
        .values(last_seen_time=at)
    )


def delete_by_hash(connection: Connection, *, id_hash: str) -> None:
    connection.execute(delete(CONSOLE_SESSIONS).where(CONSOLE_SESSIONS.c.id_hash == id_hash))


def delete_ended(connection: Connection, *, now: int, idle_before: int) -> int:
    """Delete the sessions past their absolute expiry or idle since before `idle_before`."""
    statement = delete(CONSOLE_SESSIONS).where(
        or_(
            CONSOLE_SESSIONS.c.expires_time <= now,
            CONSOLE_SESSIONS.c.last_seen_time < idle_before,
        )
    )
    return connection.execute(statement).rowcount
