"""SQLite units of work: statements on the loop's thread, waits for other writers off it."""

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from fnhost.store import migrate, sqlite
from fnhost.store.engine import Database


@contextlib.asynccontextmanager
async def _database(
    path: Path, *, url_prefix: str = "sqlite", wait: float = 30
) -> AsyncIterator[Database]:
    db = Database(
        f"{url_prefix}:///{path}", sqlite_lock_wait_seconds=wait, pool_size=1, ping_idle_seconds=5
    )

    def create(connection: Connection) -> None:
        connection.execute(text("CREATE TABLE IF NOT EXISTS counter (n INTEGER)"))
        connection.execute(text("INSERT INTO counter VALUES (0)"))

    try:
        await db.run_write(create)
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


def _increment_unit(connection: Connection) -> None:
    connection.execute(text("UPDATE counter SET n = n + 1"))


def _count_unit(connection: Connection) -> int:
    return int(connection.execute(text("SELECT n FROM counter")).scalar_one())


@pytest.mark.parametrize("url_prefix", ["sqlite", "sqlite+aiosqlite"])
async def test_units_of_work_run_on_the_event_loop_thread(tmp_path: Path, url_prefix: str) -> None:
    def thread_of(connection: Connection) -> int:
        raw = connection.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        raw.create_function("thread_id", 0, threading.get_ident)
        return int(connection.execute(text("SELECT thread_id()")).scalar_one())

    async with _database(tmp_path / "db.sqlite", url_prefix=url_prefix) as db:
        assert await db.run_read(thread_of) == threading.get_ident()
        assert await db.run_write(thread_of) == threading.get_ident()


async def test_migrations_bring_the_database_to_the_newest_schema(tmp_path: Path) -> None:
    async with _database(tmp_path / "db.sqlite") as db:
        await db.migrate()

        version = await db.run_read(
            lambda c: c.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        )

    assert version == ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


async def test_unit_of_work_waits_for_another_connection_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite"
    async with _database(path) as db:
        with _write_lock_held_elsewhere(path):
            writer = asyncio.create_task(db.run_write(_increment_unit))
            done, _ = await asyncio.wait({writer}, timeout=0.2)
            # The loop is free while the writer waits: a reader runs and sees the old value.
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

        assert await db.run_read(pragmas) == ["wal", 1, 1, sqlite.READER_BUSY_TIMEOUT_MS]
        # A writer never sleeps in SQLite's busy handler, which would block the loop.
        assert await db.run_write(pragmas) == ["wal", 1, 1, 0]
