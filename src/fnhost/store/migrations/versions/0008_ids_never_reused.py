"""ids are never reused: SQLite tables become AUTOINCREMENT (PostgreSQL's sequences already never
go back)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Each table with an integer id, and the columns elsewhere that hold its ids: a row deleted
# before this migration may still be named there (a call's schedule, a function's code file),
# so the next id starts above those too.
REFERENCED_BY: dict[str, tuple[tuple[str, str], ...]] = {
    "files": (("functions", "file_id"),),
    "functions": (("calls", "function_id"), ("schedules", "function_id")),
    "calls": (("call_logs", "call_id"),),
    "call_logs": (),
    "schedules": (("calls", "schedule_id"),),
    "sessions": (("calls", "session_id"), ("schedules", "session_id"), ("tokens", "session_id")),
    "tokens": (),
    "clients": (),
    "datasets": (),
    "console_sessions": (),
}


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return
    # Rebuilding a table drops it; the caller runs migrations with SQLite's foreign keys off, so
    # that dropping a parent does not delete its children (ON DELETE CASCADE).
    for table, references in REFERENCED_BY.items():
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
        highest = max(
            [_max(connection, table, "id")]
            + [_max(connection, other, column) for other, column in references]
        )
        _seed_sequence(connection, table, highest)
    problems = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if problems:
        raise RuntimeError(f"rebuilding the tables broke foreign keys: {problems}")


def _max(connection: sa.Connection, table: str, column: str) -> int:
    highest = sa.select(sa.func.max(sa.column(column, sa.BigInteger))).select_from(sa.table(table))
    return int(connection.execute(highest).scalar() or 0)


def _seed_sequence(connection: sa.Connection, table: str, highest: int) -> None:
    """The next id of `table` will be above `highest`."""
    current = connection.execute(
        sa.text("SELECT seq FROM sqlite_sequence WHERE name = :table"), {"table": table}
    ).scalar()
    if current is None:
        connection.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:table, :seq)"),
            {"table": table, "seq": highest},
        )
    elif current < highest:
        connection.execute(
            sa.text("UPDATE sqlite_sequence SET seq = :seq WHERE name = :table"),
            {"table": table, "seq": highest},
        )


def downgrade() -> None:
    # AUTOINCREMENT only forbids reuse; a database downgraded keeps it, harmlessly.
    pass
