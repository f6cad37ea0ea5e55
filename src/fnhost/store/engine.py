"""The database handle. SQLite gets separate engines for readers (deferred transactions,
concurrent under WAL) and writers (BEGIN IMMEDIATE), both on the inline driver."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import (
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from fnhost.store.sqlite_inline import sqlite_engine


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
        else:
            self.engine = create_async_engine(
                url, pool_size=10, max_overflow=20, pool_pre_ping=True
            )
            self._reader = self.engine
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

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._reader is not self.engine:
            await self._reader.dispose()
