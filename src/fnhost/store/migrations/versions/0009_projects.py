"""projects as rows of their own, backfilled from what already names them

Revision ID: 0009
Revises: 0008
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Tables whose rows name their project in a `project` column.
WITH_PROJECT = ("functions", "files", "calls", "schedules", "sessions", "datasets")
# Tables whose rows grant projects in a JSON list (null: every project, which names none).
WITH_GRANTS = ("tokens", "clients")


def upgrade() -> None:
    projects = op.create_table(
        "projects",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_projects")),
    )
    connection = op.get_bind()
    named: set[str] = set()
    for name in WITH_PROJECT:
        column = sa.column("project", sa.String)
        named.update(
            connection.execute(
                sa.select(column).distinct().select_from(sa.table(name, column))
            ).scalars()
        )
    for name in WITH_GRANTS:
        column = sa.column("projects", sa.JSON)
        for granted in connection.execute(
            sa.select(column).select_from(sa.table(name, column))
        ).scalars():
            named.update(granted or ())
    now_ms = int(time.time() * 1000)
    if named:
        op.bulk_insert(projects, [{"name": p, "created_time": now_ms} for p in sorted(named)])


def downgrade() -> None:
    op.drop_table("projects")
