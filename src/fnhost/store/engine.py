"""The database handle. SQLite gets a connection for readers (deferred transactions, concurrent
under WAL) and one for writers (BEGIN IMMEDIATE); PostgreSQL an async engine.

One way in: a unit of work, a synchronous function of a transaction (`Tx`) that calls the store's
functions, run by `run_read` or `run_write`. The services write units; only the store's
functions look inside the transaction. SQLite is a library in this process: a statement costs
microseconds, so a unit of work runs on the loop's thread directly, on a synchronous engine,
skipping the asyncio adaptation (greenlet switches, awaitable cursors) that costs three times the
statement. On PostgreSQL the same unit of work runs through the async engine with `run_sync`, in
as few round trips as it can be (store/postgres.py).
"""

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import TypeAlias, TypeVar

from alembic import command
from sqlalchemy import Connection, Engine

from fnhost.store import migrate
from fnhost.store.postgres import Postgres
from fnhost.store.sqlite import (
    FIRST_RETRY_SECONDS,
    LONGEST_RETRY_SECONDS,
    enable_wal,
    is_busy,
    sqlite_engine,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

Tx: TypeAlias = Connection
"""A transaction in progress, as a unit of work receives it: passed on to the store's functions,
never used directly above the store."""


class _LoopConnection:
    """One connection of a synchronous SQLite engine, kept open for the units of work run on
    the loop. They never interleave (each runs to its end without yielding), so one connection
    serves them all; keeping it open saves the pool's checkout and reset, a third of a short
    read."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    def _connected(self) -> Connection:
        if self._connection is None or self._connection.closed:
            self._connection = self._engine.connect()
        return self._connection

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """The connection in a transaction, committed at the end or rolled back on error."""
        connection = self._connected()
        with connection.begin():
            yield connection

    @contextlib.contextmanager
    def foreign_keys_off(self) -> Iterator[None]:
        """Foreign keys unenforced on this connection meanwhile. Set on the driver's connection,
        outside any transaction: SQLite ignores the pragma inside one."""
        driver = self._connected().connection.driver_connection
        assert driver is not None
        driver.execute("PRAGMA foreign_keys=OFF")
        try:
            yield
        finally:
            driver.execute("PRAGMA foreign_keys=ON")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._engine.dispose()


class Database:
    """Units of work for reading and for writing, on SQLite or PostgreSQL."""

    def __init__(
        self,
        url: str,
        *,
        sqlite_lock_wait_seconds: float,
        pool_size: int,
        ping_idle_seconds: float,
    ) -> None:
        """`pool_size` and `ping_idle_seconds` are PostgreSQL's (store/postgres.py)."""
        self.url = url
        self._lock_wait_seconds = sqlite_lock_wait_seconds
        # SQLite: a reader and a writer connection, each kept open for the units run on the loop.
        self._sqlite: tuple[_LoopConnection, _LoopConnection] | None = None
        # PostgreSQL: a pool of the async engine, the units run on it through `run_sync`.
        self._postgres: Postgres | None = None
        if url.startswith("sqlite"):
            enable_wal(url, lock_wait_seconds=sqlite_lock_wait_seconds)
            self._sqlite = (
                _LoopConnection(sqlite_engine(url, writer=False)),
                _LoopConnection(sqlite_engine(url, writer=True)),
            )
        else:
            self._postgres = Postgres(url, pool_size=pool_size, ping_idle_seconds=ping_idle_seconds)
        # SQLite has one writer at a time. Waiting for it in this process is a queue; retrying
        # BEGIN IMMEDIATE with sleeps collapses throughput under concurrent requests. Only
        # writers in other processes are met by the retries.
        self._write_turn = asyncio.Lock()

    @property
    def dialect(self) -> str:
        return "sqlite" if self._sqlite is not None else "postgresql"

    async def migrate(self) -> None:
        """Bring the database to the newest schema (Alembic)."""

        def upgrade(connection: Tx) -> None:
            config = migrate.alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

        logger.info(
            "migrating the database to the newest schema", extra={"action": "migrate_started"}
        )
        started = time.monotonic()
        if self._sqlite is None:
            await self.run_write(upgrade)
        else:
            # SQLite alters a table by rebuilding it: a copy, then a DROP of the original,
            # which with foreign keys on deletes the rows referring to it (ON DELETE CASCADE).
            # SQLite's procedure for this turns them off around the change; a migration that
            # rebuilds tables checks them before it commits. Nothing else runs on the writer yet.
            with self._sqlite[1].foreign_keys_off():
                await self.run_write(upgrade)
        logger.info(
            "database schema up to date in %.2f s",
            time.monotonic() - started,
            extra={"action": "migrate_done"},
        )

    async def run_read(self, work: Callable[[Tx], T]) -> T:
        """`work`'s result, run in a read transaction: a snapshot on SQLite; on PostgreSQL each
        statement sees the data as of its own start (READ COMMITTED, in autocommit).

        `work` only reads: no writes, no row locks (those are `run_write`'s).
        """
        if self._sqlite is not None:
            with self._sqlite[0].transaction() as connection:
                return work(connection)
        assert self._postgres is not None
        return await self._postgres.run_autocommit(work)

    async def run_statement(self, work: Callable[[Tx], T]) -> T:
        """`work`'s result, where `work` writes with one statement: on PostgreSQL that statement
        is its own transaction (autocommit: no BEGIN and COMMIT round trips); on SQLite it runs
        as `run_write` runs it.

        The statement must be idempotent: on PostgreSQL it runs again when its connection is
        lost under it, whether or not its first run committed.
        """
        if self._postgres is not None:
            return await self._postgres.run_autocommit(work)
        return await self.run_write(work)

    async def run_write(self, work: Callable[[Tx], T]) -> T:
        """`work`'s result, run in a write transaction: committed, or rolled back if it raises.

        `work` must not block nor wait, and may run again from the start: on SQLite when another
        process held the write lock when it began, on PostgreSQL when its connection was lost
        before the commit.
        """
        if self._postgres is not None:
            return await self._postgres.run_write(work)
        assert self._sqlite is not None
        async with self._write_turn:
            deadline = time.monotonic() + self._lock_wait_seconds
            delay = FIRST_RETRY_SECONDS
            while True:
                try:
                    with self._sqlite[1].transaction() as connection:
                        return work(connection)
                except sqlite3.OperationalError as error:
                    # Raised as it is by the BEGIN IMMEDIATE of the engine's begin event.
                    if not is_busy(error) or time.monotonic() + delay > deadline:
                        raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, LONGEST_RETRY_SECONDS)

    async def dispose(self) -> None:
        if self._postgres is not None:
            await self._postgres.dispose()
        if self._sqlite is not None:
            for connection in self._sqlite:
                connection.close()
