"""PostgreSQL units of work, in as few round trips as they can be.

Each statement is a round trip to the server, and a call's life is a handful of short units of
work, so what surrounds the statements is most of the cost:

- **No ping at each checkout.** SQLAlchemy's `pool_pre_ping` runs BEGIN, an empty query and
  ROLLBACK (three round trips) before every unit. Instead, a connection the driver knows to be
  closed is replaced at checkout for free, and only a connection that sat unused longer than
  FNHOST_DATABASE_PING_IDLE_SECONDS is pinged (the ones a restart, a failover or an idle timeout
  may have ended unseen). A unit that meets a dead connection anyway, before its commit, runs
  again once on a fresh one: nothing of it was committed, and a unit of work is a function of
  its transaction alone (`Database.run_write`). A failure at the commit itself is raised: the
  commit may have happened.
- **Reads without a transaction.** At READ COMMITTED, PostgreSQL's default and the one used
  here, each statement of a transaction sees the data as of its own start, never a snapshot
  shared with the unit's other statements; a read unit run in autocommit sees exactly the same
  and saves BEGIN and COMMIT. No read unit writes or locks rows (those are write units).
- **One-statement writes without a transaction** (`Database.run_statement`): a statement is
  its own transaction in autocommit, so an idempotent one (a call's end, where a call is
  handed) needs no BEGIN and COMMIT around it.
"""

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, event, exc
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

logger = logging.getLogger(__name__)

T = TypeVar("T")

# When a pooled connection was last given back (or opened), in its entry's `info`.
_IDLE_SINCE = "fnhost_idle_since"


class Postgres:
    """Units of work on a pool of PostgreSQL connections (asyncpg)."""

    def __init__(self, url: str, *, pool_size: int, ping_idle_seconds: float) -> None:
        """`pool_size` connections, opened as needed and kept open; a unit of work finding
        them all busy waits for one. No overflow: connections opened for a burst and closed
        when given back cost a PostgreSQL backend, a TLS handshake and their prepared
        statements each time (scaled out, 16 clients: 108-135 connections opened in 12 s,
        and per call 44% more CPU in PostgreSQL and 22% more in the API replica than with
        none)."""
        self._engine: AsyncEngine = create_async_engine(url, pool_size=pool_size, max_overflow=0)
        self._autocommit = self._engine.execution_options(isolation_level="AUTOCOMMIT")
        _check_at_checkout(self._engine, ping_idle_seconds=ping_idle_seconds)

    async def run_autocommit(self, work: Callable[[Connection], T]) -> T:
        """`work` without a transaction of its own: each statement is one (reads; a write of
        one statement)."""
        return await self._run(self._autocommit, work, commit=False)

    async def run_write(self, work: Callable[[Connection], T]) -> T:
        return await self._run(self._engine, work, commit=True)

    async def _run(
        self, engine: AsyncEngine, work: Callable[[Connection], T], *, commit: bool
    ) -> T:
        """`work(connection)` on `engine` (in a transaction, BEGIN sent with its first
        statement, or in autocommit), run again once on a fresh connection if its connection
        turns out dead before the commit."""
        for last_try in (False, True):
            async with engine.connect() as connection:
                transaction = await connection.begin()
                try:
                    result = await connection.run_sync(work)
                except exc.DBAPIError as error:
                    if last_try or not error.connection_invalidated:
                        raise
                    logger.warning(
                        "the database connection was lost (%s): running the unit of work again "
                        "on a fresh one",
                        error.orig,
                        extra={"action": "database_reconnected"},
                    )
                    continue
                if commit:
                    await transaction.commit()
                return result
        raise AssertionError("unreachable: the last try returns or raises")

    async def dispose(self) -> None:
        await self._engine.dispose()


def _check_at_checkout(engine: AsyncEngine, *, ping_idle_seconds: float) -> None:
    """Replace, as the pool hands it out, a connection that is closed, or that sat unused over
    `ping_idle_seconds` and does not answer a ping (the pool opens another in its place)."""
    sync_engine = engine.sync_engine

    # A connection is idle from when it is opened or given back.
    @event.listens_for(sync_engine, "connect")
    @event.listens_for(sync_engine, "checkin")
    def _idle_from_now(_dbapi_connection: Any, entry: ConnectionPoolEntry) -> None:
        entry.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, entry: ConnectionPoolEntry, _proxy: Any) -> None:
        if entry.driver_connection is None or entry.driver_connection.is_closed():
            raise exc.DisconnectionError("the connection was closed")
        idle = time.monotonic() - entry.info.get(_IDLE_SINCE, 0.0)
        if idle <= ping_idle_seconds:
            return
        try:
            # Runs in the pool's greenlet: the dialect's ping awaits the driver from there.
            sync_engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError(f"no answer to a ping after {idle:.0f} s idle") from error
