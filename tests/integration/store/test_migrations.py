"""Migrations move existing SQLite databases without renumbering anything, and afterwards no id
is ever given twice."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from sqlalchemy import Integer, create_engine

from fnhost.store import migrate
from fnhost.store.engine import Database
from fnhost.store.tables import Base

BEFORE_IDS_NEVER_REUSED = "0007"


def _database_at(path: Path, revision: str) -> None:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        config = migrate.alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()


def _run(path: Path, *statements: str) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA foreign_keys=ON")
    for statement in statements:
        connection.execute(statement)
    connection.close()


def _ids(path: Path, table: str) -> list[int]:
    connection = sqlite3.connect(path)
    try:
        return [row[0] for row in connection.execute(f"SELECT id FROM {table} ORDER BY id")]
    finally:
        connection.close()


async def _migrate(path: Path) -> None:
    db = Database(f"sqlite:///{path}", sqlite_lock_wait_seconds=5, pool_size=1, ping_idle_seconds=5)
    try:
        await db.migrate()
    finally:
        await db.dispose()


async def test_existing_rows_keep_their_ids_and_deleted_ids_are_not_given_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fnhost.db"
    _database_at(path, BEFORE_IDS_NEVER_REUSED)
    _run(
        path,
        "INSERT INTO files (project, name, attributes, upload_key, uploaded, created_time, "
        "last_updated_time) VALUES ('p', 'a', '{}', 'k1', 1, 0, 0), "
        "('p', 'b', '{}', 'k2', 1, 0, 0), ('p', 'c', '{}', 'k3', 1, 0, 0)",
        "INSERT INTO functions (project, name, file_id, code_digest, function_path, cpu, memory, "
        "runtime, status, created_time) VALUES ('p', 'f', 3, 'd', 'handler.py', 1, 1, 'py311', "
        "'Ready', 0)",
        # The function's code file is gone, yet the function still names its id.
        "DELETE FROM files WHERE id = 3",
        "INSERT INTO schedules (project, function_id, name, cron_expression, session_id, "
        "created_time) VALUES ('p', 1, 's', '* * * * *', 1, 0), ('p', 1, 't', '* * * * *', 1, 0)",
        "INSERT INTO calls (project, function_id, state, start_time, schedule_id) "
        "VALUES ('p', 1, 'completed', 0, 2)",
        # A deleted schedule's calls are kept, naming it.
        "DELETE FROM schedules WHERE id = 2",
        "INSERT INTO call_logs (call_id, timestamp, message) VALUES (1, 0, 'a'), (1, 0, 'b')",
        "INSERT INTO tokens (token_hash, kind, subject, projects, capabilities, created_time, "
        """revoked) VALUES ('h', 'issued', 's', '["only-granted"]', '[]', 0, 0)""",
    )

    await _migrate(path)

    assert _ids(path, "files") == [1, 2]
    assert _ids(path, "functions") == [1]
    assert _ids(path, "schedules") == [1]
    assert _ids(path, "calls") == [1]
    # Rebuilding `calls` did not cascade into its logs.
    assert _ids(path, "call_logs") == [1, 2]
    _run(
        path,
        "INSERT INTO files (project, name, attributes, upload_key, uploaded, created_time, "
        "last_updated_time) VALUES ('p', 'd', '{}', 'k4', 1, 0, 0)",
        "INSERT INTO schedules (project, function_id, name, cron_expression, session_id, "
        "created_time) VALUES ('p', 1, 'u', '* * * * *', 1, 0)",
        "DELETE FROM call_logs WHERE id = 2",
        "INSERT INTO call_logs (call_id, timestamp, message) VALUES (1, 0, 'c')",
    )
    assert _ids(path, "files") == [1, 2, 4]
    assert _ids(path, "schedules") == [1, 3]
    assert _ids(path, "call_logs") == [1, 3]
    connection = sqlite3.connect(path)
    assert [row[0] for row in connection.execute("SELECT name FROM projects ORDER BY name")] == [
        "only-granted",
        "p",
    ]
    connection.close()
    # Foreign keys hold again: deleting the function takes its calls and their logs.
    _run(path, "DELETE FROM functions WHERE id = 1")
    assert _ids(path, "calls") == []
    assert _ids(path, "call_logs") == []


async def test_every_table_with_an_integer_id_never_reuses_one(tmp_path: Path) -> None:
    path = tmp_path / "fnhost.db"
    await _migrate(path)
    connection = sqlite3.connect(path)
    created = dict(connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    connection.close()
    with_ids = [
        table.name
        for table in Base.metadata.sorted_tables
        if "id" in table.c and isinstance(table.c.id.type, Integer)
    ]
    assert len(with_ids) == 10
    assert [name for name in with_ids if "AUTOINCREMENT" not in created[name]] == []
