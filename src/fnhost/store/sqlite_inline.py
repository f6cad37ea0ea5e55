"""SQLite for the async engine without a thread hop per statement.

aiosqlite runs each DBAPI call on a thread and hops back through the event loop: about a
millisecond a statement, fifty times what SQLite needs for a local file in WAL mode. This
driver runs the standard-library `sqlite3` inline, on the loop's thread, behind the awaitable
cursor API that SQLAlchemy's asyncio adapter drives. The one wait that can be long, another
process holding the write lock, yields to the loop: writers retry BEGIN IMMEDIATE with
asynchronous sleeps instead of SQLite's busy handler, which would block the loop.
"""

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from sqlalchemy import Engine, create_engine, event, pool
from sqlalchemy.connectors.asyncio import (
    AsyncAdapt_dbapi_connection,
    AsyncAdapt_dbapi_module,
    AsyncIODBAPIConnection,
)
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import await_

DRIVERNAME = "sqlite+fnhost"
# Readers never wait for writers under WAL; this only covers SQLite's brief internal locks
# (a WAL recovery after a crash, a checkpoint restarting the log) and blocks the loop so long.
READER_BUSY_TIMEOUT_MS = 50
# The first retry comes soon (a writer in another process usually commits within a
# millisecond or two); later ones back off so a long holder costs little CPU.
FIRST_RETRY_SECONDS = 0.001
LONGEST_RETRY_SECONDS = 0.05


class InlineCursor:
    """The awaitable cursor SQLAlchemy's asyncio adapter drives, answered by sqlite3 at once."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> "InlineCursor":
        return self

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, operation: str, parameters: Any = ()) -> "InlineCursor":
        self._cursor.execute(operation, parameters)
        return self

    async def executemany(self, operation: str, parameters: Sequence[Any]) -> "InlineCursor":
        self._cursor.executemany(operation, parameters)
        return self

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """The driver connection: a sqlite3 connection whose cursors are awaitable."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.sqlite = connection

    def cursor(self) -> InlineCursor:
        return InlineCursor(self.sqlite.cursor())


class InlineAdaptedConnection(AsyncAdapt_dbapi_connection):
    """SQLAlchemy's DBAPI face of an `InlineConnection`.

    Statements go through the generic adapter's awaitable cursor, because AsyncConnection
    requires each execution to await; the rest needs no await and calls sqlite3 directly.
    """

    __slots__ = ("sqlite",)

    def __init__(self, dbapi: Any, connection: InlineConnection) -> None:
        super().__init__(dbapi, cast(AsyncIODBAPIConnection, connection))
        self.sqlite = connection.sqlite

    @property
    def isolation_level(self) -> str | None:
        return self.sqlite.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        # typeshed leaves out "", the driver's default, which the pysqlite dialect sets.
        self.sqlite.isolation_level = value  # type: ignore[assignment]

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        self.sqlite.create_function(*args, **kwargs)

    def commit(self) -> None:
        self.sqlite.commit()

    def rollback(self) -> None:
        self.sqlite.rollback()

    def close(self) -> None:
        self.sqlite.close()


class InlineDBAPI(AsyncAdapt_dbapi_module):
    """The DBAPI module SQLAlchemy sees: sqlite3's names, connections that are adapted."""

    def __init__(self) -> None:
        super().__init__(sqlite3, dbapi_module=sqlite3)
        self.paramstyle = "qmark"
        for name in (
            "DatabaseError",
            "Error",
            "IntegrityError",
            "InterfaceError",
            "NotSupportedError",
            "OperationalError",
            "ProgrammingError",
            "sqlite_version",
            "sqlite_version_info",
            "PARSE_COLNAMES",
            "PARSE_DECLTYPES",
            "Binary",
        ):
            setattr(self, name, getattr(sqlite3, name))

    def connect(self, *args: Any, **kwargs: Any) -> InlineAdaptedConnection:
        return InlineAdaptedConnection(self, InlineConnection(sqlite3.connect(*args, **kwargs)))


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """The pysqlite dialect, async, on `InlineDBAPI`: statements run on the loop's thread."""

    driver = "fnhost"
    is_async = True
    supports_statement_cache = True
    # Rows are fetched inline at once; a server-side cursor would only add awaits.
    supports_server_side_cursors = False
    # Closing a sqlite3 connection does no I/O worth awaiting, so even the garbage collector
    # may close one that was never checked in, instead of leaking it.
    has_terminate = True

    @classmethod
    def import_dbapi(cls) -> Any:
        return InlineDBAPI()

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool

    def get_driver_connection(self, connection: Any) -> sqlite3.Connection:
        return cast(sqlite3.Connection, connection.sqlite)


registry.register(DRIVERNAME.replace("+", "."), __name__, InlineSQLiteDialect.__name__)


def is_busy(error: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused because another connection holds a lock (SQLITE_BUSY)."""
    return error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY


def run_when_unlocked(statement: Callable[[], object], *, wait_seconds: float) -> None:
    """Run `statement`, retrying while it meets a lock; the sleeps between tries yield the loop."""
    deadline = time.monotonic() + wait_seconds
    delay = FIRST_RETRY_SECONDS
    while True:
        try:
            statement()
            return
        except sqlite3.OperationalError as error:
            if not is_busy(error) or time.monotonic() + delay > deadline:
                raise
        await_(asyncio.sleep(delay))
        delay = min(delay * 2, LONGEST_RETRY_SECONDS)


def sqlite_engine(url: str, *, writer: bool, lock_wait_seconds: float) -> AsyncEngine:
    """An engine on the inline driver whatever driver `url` names, with WAL and foreign keys.

    A writer's transactions start with BEGIN IMMEDIATE, taking the write lock up front: a
    deferred transaction that later writes fails with SQLITE_BUSY at once instead of waiting
    its turn. A reader's are deferred, so they run beside writers under WAL. A writer meeting
    another process's lock retries with sleeps that yield the loop.
    """
    engine = create_async_engine(make_url(url).set(drivername=DRIVERNAME))

    def wait_for_lock(statement: Callable[[], object]) -> None:
        run_when_unlocked(statement, wait_seconds=lock_wait_seconds)

    _configure(engine.sync_engine, writer=writer, when_unlocked=wait_for_lock)
    return engine


def sqlite_sync_engine(url: str, *, writer: bool) -> Engine:
    """A synchronous engine (the standard pysqlite driver) configured like `sqlite_engine`.

    For units of work run directly on the loop (see `Database.run_read`): without the asyncio
    adaptation a statement costs a third. It never waits for a lock: a writer's BEGIN IMMEDIATE
    that meets another process's lock raises SQLITE_BUSY, and the caller retries, yielding.
    """
    engine = create_engine(make_url(url).set(drivername="sqlite+pysqlite"))

    def once(statement: Callable[[], object]) -> None:
        statement()

    _configure(engine, writer=writer, when_unlocked=once)
    return engine


def _configure(
    engine: Engine, *, writer: bool, when_unlocked: Callable[[Callable[[], object]], None]
) -> None:
    """WAL, foreign keys and the transaction discipline of readers and writers."""
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"
    # A writer waits for the lock only in `when_unlocked`, so its busy handler is off.
    busy_timeout_ms = 0 if writer else READER_BUSY_TIMEOUT_MS

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        connection = _sqlite_of(dbapi_connection)
        # Take transaction control from the driver so that the BEGIN below is the only one.
        connection.isolation_level = None
        connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        when_unlocked(lambda: connection.execute("PRAGMA journal_mode=WAL"))
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        sqlite = connection.connection.driver_connection
        when_unlocked(lambda: sqlite.execute(begin))


def _sqlite_of(dbapi_connection: Any) -> sqlite3.Connection:
    if isinstance(dbapi_connection, InlineAdaptedConnection):
        return dbapi_connection.sqlite
    return cast(sqlite3.Connection, dbapi_connection)
