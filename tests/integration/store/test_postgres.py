"""PostgreSQL units of work: no ping before each, reads without a transaction, and a unit whose
connection dies before its commit run again once on a fresh connection; a pool that never
grows past its size."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import Connection, exc, text

from fnhost.store.engine import Database
from tests.postgres import fresh_database, query

_KILL_OWN_CONNECTION = text("SELECT pg_terminate_backend(pg_backend_pid())")


@pytest.fixture
async def db() -> AsyncIterator[Database]:
    with fresh_database() as url:
        database = Database(url, sqlite_lock_wait_seconds=1, pool_size=2, ping_idle_seconds=60)
        await database.run_write(lambda tx: tx.execute(text("CREATE TABLE t (n INTEGER)")))
        try:
            yield database
        finally:
            await database.dispose()


def _dying(
    times: int, then: Callable[[Connection], int], *, writes: bool = True
) -> tuple[list[int], Callable[..., int]]:
    """A unit of work whose connection dies under it its first `times` runs (after a write, if
    it `writes`); and its runs."""
    runs: list[int] = []

    def unit(tx: Connection) -> int:
        runs.append(1)
        if len(runs) <= times:
            if writes:
                tx.execute(text("INSERT INTO t VALUES (-1)"))
            tx.execute(_KILL_OWN_CONNECTION)
        return then(tx)

    return runs, unit


def _insert(tx: Connection) -> int:
    tx.execute(text("INSERT INTO t VALUES (1)"))
    return 1


def _count(tx: Connection) -> int:
    return int(tx.execute(text("SELECT count(*) FROM t")).scalar_one())


async def test_write_whose_connection_dies_runs_again_once_on_a_fresh_one(db: Database) -> None:
    runs, unit = _dying(1, _insert)

    assert await db.run_write(unit) == 1

    assert len(runs) == 2
    # The first run's insert died with its connection: only the second's is there.
    assert await db.run_read(lambda tx: tx.execute(text("SELECT n FROM t")).scalars().all()) == [1]


async def test_read_whose_connection_dies_runs_again_once_on_a_fresh_one(db: Database) -> None:
    runs, unit = _dying(1, _count, writes=False)

    assert await db.run_read(unit) == 0
    assert len(runs) == 2


async def test_unit_whose_connection_dies_twice_fails(db: Database) -> None:
    runs, unit = _dying(2, _insert)

    with pytest.raises(exc.DBAPIError) as raised:
        await db.run_write(unit)

    assert raised.value.connection_invalidated
    assert len(runs) == 2
    assert await db.run_read(_count) == 0


async def test_unit_failing_otherwise_runs_once(db: Database) -> None:
    runs: list[int] = []

    def unit(tx: Connection) -> None:
        runs.append(1)
        tx.execute(text("INSERT INTO t VALUES (1)"))
        tx.execute(text("SELECT 1 / 0"))

    with pytest.raises(exc.DBAPIError):
        await db.run_write(unit)

    assert len(runs) == 1
    assert await db.run_read(_count) == 0


async def test_connections_closed_while_pooled_are_replaced_before_use(db: Database) -> None:
    await db.run_write(_insert)
    # Every other connection to the database ends (a restart, a failover, an idle timeout).
    others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    await query(db.url, f"SELECT pg_terminate_backend(pid) {others}")
    for _ in range(500):
        if not (await query(db.url, f"SELECT count(*) AS n {others}"))[0]["n"]:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # the pool's connections read their end meanwhile
    runs: list[int] = []

    def unit(tx: Connection) -> int:
        runs.append(1)
        return _insert(tx) + _count(tx)

    assert await db.run_write(unit) == 3
    assert len(runs) == 1  # the dead connection was never handed to the unit


def _each_statement_on_its_own(tx: Connection) -> bool:
    first, second = (tx.execute(text("SELECT pg_current_xact_id()")).scalar_one() for _ in range(2))
    return bool(first != second)


async def test_reads_run_without_a_transaction_and_writes_in_one(db: Database) -> None:
    assert await db.run_read(_each_statement_on_its_own)
    assert not await db.run_write(_each_statement_on_its_own)


async def test_a_one_statement_write_is_its_own_transaction(db: Database) -> None:
    assert await db.run_statement(_each_statement_on_its_own)
    assert await db.run_statement(_insert) == 1
    assert await db.run_read(_count) == 1


async def test_a_burst_wider_than_the_pool_waits_for_its_connections(db: Database) -> None:
    # Ten units at once on a pool of two: each runs, on one of the pool's two connections (a
    # connection opened for the burst would cost a backend, a handshake and its statements).
    def unit(tx: Connection) -> int:
        tx.execute(text("SELECT pg_sleep(0.05)"))
        _insert(tx)
        return int(tx.execute(text("SELECT pg_backend_pid()")).scalar_one())

    backends = await asyncio.gather(*(db.run_write(unit) for _ in range(10)))

    assert len(set(backends)) <= 2
    assert await db.run_read(_count) == 10
