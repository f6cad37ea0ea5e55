"""SQLite engines for units of work run on the event loop's thread.

SQLite is a library in this process: a statement on a local file in WAL mode costs microseconds,
so running it on a worker thread (aiosqlite) or through SQLAlchemy's asyncio adaptation costs
many times the statement. fnhost runs its units of work on synchronous engines of the standard
`sqlite3` driver, directly on the loop. The one wait that can be long, another process holding
the write lock, must not block the loop: a writer's BEGIN IMMEDIATE fails at once with
SQLITE_BUSY instead (its busy handler is off) and the caller retries with asynchronous sleeps
(see `Database.run_write`).
"""

import sqlite3
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

# Readers never wait for writers under WAL; this only covers SQLite's brief internal locks
# (a WAL recovery after a crash, a checkpoint restarting the log) and blocks the loop so long.
READER_BUSY_TIMEOUT_MS = 50
# The first retry comes soon (a writer in another process usually commits within a
# millisecond or two); later ones back off so a long holder costs little CPU.
FIRST_RETRY_SECONDS = 0.001
LONGEST_RETRY_SECONDS = 0.05


def is_busy(error: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused because another connection holds a lock (SQLITE_BUSY)."""
    return error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY


def sqlite_engine(url: str, *, writer: bool) -> Engine:
    """An engine on the standard sqlite3 driver, whatever driver `url` names, with WAL and
    foreign keys.

    A writer's transactions start with BEGIN IMMEDIATE, taking the write lock up front: a
    deferred transaction that later writes would fail with SQLITE_BUSY halfway instead. A
    reader's are deferred, so they run beside writers under WAL.
    """
    engine = create_engine(make_url(url).set(drivername="sqlite+pysqlite"))
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"
    # A writer never sleeps in SQLite's busy handler, which would block the loop.
    busy_timeout_ms = 0 if writer else READER_BUSY_TIMEOUT_MS

    @event.listens_for(engine, "connect")
    def _connect(connection: sqlite3.Connection, _record: Any) -> None:
        # Take transaction control from the driver so that the BEGIN below is the only one.
        connection.isolation_level = None
        connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.connection.driver_connection.execute(begin)

    return engine


def enable_wal(url: str, *, lock_wait_seconds: float) -> None:
    """Put the database file in WAL mode (persistent; done once, when the database opens, waiting
    for another process's lock if need be: nothing else runs yet)."""
    engine = create_engine(
        make_url(url).set(drivername="sqlite+pysqlite"),
        connect_args={"timeout": lock_wait_seconds},
    )
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
    finally:
        engine.dispose()
