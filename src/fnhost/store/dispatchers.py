"""The registry of live dispatchers: calls a dispatcher claimed are its own until it stops
beating."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update

from fnhost.store.engine import Tx
from fnhost.store.rows import records
from fnhost.store.tables import Dispatcher, table_of

DISPATCHERS = table_of(Dispatcher)


@dataclass(frozen=True, slots=True)
class DispatcherRecord:
    id: str
    host: str
    pid: int
    started_time: int
    heartbeat_time: int


def register(tx: Tx, *, dispatcher_id: str, host: str, pid: int, now: int) -> None:
    values = {
        "id": dispatcher_id,
        "host": host,
        "pid": pid,
        "started_time": now,
        "heartbeat_time": now,
    }
    tx.execute(insert(DISPATCHERS), values)


def beat(tx: Tx, *, dispatcher_id: str, now: int) -> None:
    statement = (
        update(DISPATCHERS).where(DISPATCHERS.c.id == dispatcher_id).values(heartbeat_time=now)
    )
    tx.execute(statement)


def all_(tx: Tx) -> list[DispatcherRecord]:
    return records(DispatcherRecord, tx.execute(select(DISPATCHERS)))


def remove(tx: Tx, *, ids: Sequence[str]) -> None:
    tx.execute(delete(DISPATCHERS).where(DISPATCHERS.c.id.in_(ids)))
