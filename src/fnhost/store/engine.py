"""The database handle. SQLite gets separate engines for readers (deferred transactions,
concurrent under WAL) and writers (BEGIN IMMEDIATE), both on the inline driver.

Two ways in: ORM sessions (`read`, `write`) for most use cases, and synchronous units of work
on a Core connection (`run_read`, `run_write`) for the statements every call and request
makes. SQLite is a library in this process: a statement costs microseconds, so a unit of work
runs on the loop's thread directly, on a synchronous engine, skipping the asyncio adaptation
(greenlet switches, awaitable cursors) that costs three times the statement. On PostgreSQL the
same unit of work runs through the async engine with `run_sync`.
"""

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import (
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from fnhost.store.sqlite_inline import (
    FIRST_RETRY_SECONDS,
    LONGEST_RETRY_SECONDS,
    is_busy,
    sqlite_engine,
    sqlite_sync_engine,
)

T = TypeVar("T")


class _LoopConnection:
    """One connection of a synchronous SQLite engine, kept open for the units of work run on
    the loop. They never interleave (each runs to its end without yielding), so one connection
    serves them all; keeping it open saves the pool's checkout and reset, a third of a short
    read."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """The connection in a transaction, committed at the end or rolled back on error."""
        if self._connection is None or self._connection.closed:
            self._connection = self._engine.connect()
        with self._connection.begin():
            yield self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._engine.dispose()


async def on_connection(session: AsyncSession, work: Callable[[Connection], T]) -> T:
    """Run a unit of work written for `Database.run_write` inside an ORM session's transaction."""
    return await session.run_sync(lambda sync_session: work(sync_session.connection()))


class Database:
    """Sessions for reading and for writing, on SQLite or PostgreSQL."""

    def __init__(self, url: str, *, sqlite_lock_wait_seconds: float) -> None:
        self.url = url
        if url.startswith("sqlite"):
            self.engine = sqlite_engine(
                url, writer=True, lock_wait_seconds=sqlite_lock_wait_seconds
            )
            self._reader = sqlite_engine(
                url, writer=False, lock_wait_seconds=sqlite_lock_wait_seconds
            )
            self._sync: tuple[_LoopConnection, _LoopConnection] | None = (
                _LoopConnection(sqlite_sync_engine(url, writer=False)),
                _LoopConnection(sqlite_sync_engine(url, writer=True)),
            )
        else:
            self.engine = create_async_engine(
                url, pool_size=10, max_overflow=20, pool_pre_ping=True
            )
            self._reader = self.engine
            self._sync = None
        self._lock_wait_seconds = sqlite_lock_wait_seconds
        # SQLite has one writer at a time. Waiting for it in this process is a queue; retrying
        # BEGIN IMMEDIATE with sleeps collapses throughput under concurrent requests. Only
        # writers in other processes are met by the retries.
        self._write_turn: asyncio.Lock | None = asyncio.Lock() if url.startswith("sqlite") else None
        self._write_sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self._reader, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in a write transaction, committed on success, rolled back on error."""
        async with contextlib.AsyncExitStack() as stack:
            if self._write_turn is not None:
                await stack.enter_async_context(self._write_turn)
            session = await stack.enter_async_context(self._write_sessions())
            await stack.enter_async_context(session.begin())
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session in a read-only snapshot."""
        async with self._read_sessions() as session, session.begin():
            yield session

    async def run_read(self, work: Callable[[Connection], T]) -> T:
        """`work`'s result, run in a read transaction (a snapshot on SQLite)."""
        if self._sync is not None:
            with self._sync[0].transaction() as connection:
                return work(connection)
        async with self._reader.begin() as connection:
            return await connection.run_sync(work)

    async def run_write(self, work: Callable[[Connection], T]) -> T:
        """`work`'s result, run in a write transaction: committed, or rolled back if it raises.

        `work` must not block nor wait; on SQLite it may run again from the start when another
        process held the write lock when it began.
        """
        if self._sync is None:
            async with self.engine.begin() as connection:
                return await connection.run_sync(work)
        assert self._write_turn is not None
        async with self._write_turn:
            deadline = time.monotonic() + self._lock_wait_seconds
            delay = FIRST_RETRY_SECONDS
            while True:
                try:
                    with self._sync[1].transaction() as connection:
                        return work(connection)
                except sqlite3.OperationalError as error:
                    # Raised as it is by the BEGIN IMMEDIATE of the engine's begin event.
                    if not is_busy(error) or time.monotonic() + delay > deadline:
                        raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, LONGEST_RETRY_SECONDS)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._reader is not self.engine:
            await self._reader.dispose()
        if self._sync is not None:
            for connection in self._sync:
                connection.close()
