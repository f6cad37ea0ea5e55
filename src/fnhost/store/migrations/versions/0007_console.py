"""web console sessions; calls by project and start time (the console's timeline)

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("credential_sealed", sa.Text(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_time", sa.BigInteger(), nullable=False),
        sa.Column("expires_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_console_sessions_id_hash")),
    )
    op.create_index(op.f("ix_console_sessions_expires_time"), "console_sessions", ["expires_time"])
    op.create_index("ix_calls_project_start_time", "calls", ["project", "start_time"])


def downgrade() -> None:
    op.drop_index("ix_calls_project_start_time", table_name="calls")
    op.drop_index(op.f("ix_console_sessions_expires_time"), table_name="console_sessions")
    op.drop_table("console_sessions")
