"""The inline SQLite driver: statements on the loop's thread, waits for other writers off it."""

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from fnhost.store import migrate, sqlite_inline
from fnhost.store.engine import Database


@contextlib.asynccontextmanager
async def _database(
    path: Path, *, url_prefix: str = "sqlite", wait: float = 30
) -> AsyncIterator[Database]:
    db = Database(f"{url_prefix}:///{path}", sqlite_lock_wait_seconds=wait)
    try:
        async with db.write() as session:
            await session.execute(text("CREATE TABLE IF NOT EXISTS counter (n INTEGER)"))
            await session.execute(text("INSERT INTO counter VALUES (0)"))
        yield db
    finally:
        await db.dispose()


@contextlib.contextmanager
def _write_lock_held_elsewhere(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection (as another process would) holding the write lock until the end."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE counter SET n = n + 100")
        yield other
        other.execute("COMMIT")
    finally:
        other.close()


@pytest.mark.parametrize("url_prefix", ["sqlite", "sqlite+aiosqlite"])
async def test_statements_run_on_the_event_loop_thread(tmp_path: Path, url_prefix: str) -> None:
    async with _database(tmp_path / "db.sqlite", url_prefix=url_prefix) as db, db.read() as session:
        connection = await (await session.connection()).get_raw_connection()
        connection.driver_connection.create_function("thread_id", 0, threading.get_ident)

        thread = (await session.execute(text("SELECT thread_id()"))).scalar_one()

    assert thread == threading.get_ident()


async def test_readers_and_writers_get_wal_foreign_keys_and_normal_sync(tmp_path: Path) -> None:
    async with _database(tmp_path / "db.sqlite") as db:
        for sessions, busy_timeout in (
            (db.read, sqlite_inline.READER_BUSY_TIMEOUT_MS),
            # A writer never sleeps in SQLite's busy handler, which would block the loop.
            (db.write, 0),
        ):
            async with sessions() as session:
                pragmas = [
                    (await session.execute(text(f"PRAGMA {name}"))).scalar_one()
                    for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
                ]
            assert pragmas == ["wal", 1, 1, busy_timeout]


async def test_migrations_run_on_the_inline_driver(tmp_path: Path) -> None:
    async with _database(tmp_path / "db.sqlite") as db:
        await migrate.upgrade(db.engine)

        async with db.read() as session:
            version = (
                await session.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one()

    assert version == ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


async def test_writer_waits_for_another_connection_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite"
    async with _database(path) as db:

        async def increment() -> None:
            async with db.write() as session:
                await session.execute(text("UPDATE counter SET n = n + 1"))

        with _write_lock_held_elsewhere(path):
            writer = asyncio.create_task(increment())
            done, _ = await asyncio.wait({writer}, timeout=0.2)
            # The loop is free while the writer waits: a reader runs and sees the old value.
            async with db.read() as session:
                seen_while_waiting = (
                    await session.execute(text("SELECT n FROM counter"))
                ).scalar_one()
            assert not done and not writer.done()
        await writer

        async with db.read() as session:
            final = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
    assert (seen_while_waiting, final) == (0, 101)


async def test_writer_gives_up_when_the_lock_is_held_past_the_wait(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    async with _database(path, wait=0.05) as db:
        with (
            _write_lock_held_elsewhere(path),
            pytest.raises(sqlite3.OperationalError, match="locked"),
        ):
            async with db.write() as session:
                await session.execute(text("UPDATE counter SET n = n + 1"))

        async with db.read() as session:
            assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 100


def _increment_unit(connection: Connection) -> None:
    connection.execute(text("UPDATE counter SET n = n + 1"))


def _count_unit(connection: Connection) -> int:
    return int(connection.execute(text("SELECT n FROM counter")).scalar_one())


async def test_unit_of_work_waits_for_another_connection_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite"
    async with _database(path) as db:
        with _write_lock_held_elsewhere(path):
            writer = asyncio.create_task(db.run_write(_increment_unit))
            done, _ = await asyncio.wait({writer}, timeout=0.2)
            seen_while_waiting = await db.run_read(_count_unit)
            assert not done
        await writer

        assert (seen_while_waiting, await db.run_read(_count_unit)) == (0, 101)


async def test_unit_of_work_gives_up_past_the_wait_and_the_next_one_runs(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    async with _database(path, wait=0.05) as db:
        with (
            _write_lock_held_elsewhere(path),
            pytest.raises(sqlite3.OperationalError, match="locked"),
        ):
            await db.run_write(_increment_unit)

        await db.run_write(_increment_unit)
        assert await db.run_read(_count_unit) == 101


async def test_unit_of_work_that_raises_is_rolled_back(tmp_path: Path) -> None:
    async with _database(tmp_path / "db.sqlite") as db:

        def increment_then_fail(connection: Connection) -> None:
            _increment_unit(connection)
            raise ValueError("no")

        with pytest.raises(ValueError, match="no"):
            await db.run_write(increment_then_fail)

        assert await db.run_read(_count_unit) == 0


async def test_units_of_work_get_wal_foreign_keys_and_normal_sync(tmp_path: Path) -> None:
    async with _database(tmp_path / "db.sqlite") as db:

        def pragmas(connection: Connection) -> list[object]:
            names = ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
            return [connection.execute(text(f"PRAGMA {n}")).scalar_one() for n in names]

        assert await db.run_read(pragmas) == ["wal", 1, 1, sqlite_inline.READER_BUSY_TIMEOUT_MS]
        assert await db.run_write(pragmas) == ["wal", 1, 1, 0]
