"""indexes for retention: calls by end time, sessions by expiry

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f("ix_calls_end_time"), "calls", ["end_time"], unique=False)
    op.create_index(
        op.f("ix_sessions_expiration_time"), "sessions", ["expiration_time"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sessions_expiration_time"), table_name="sessions")
    op.drop_index(op.f("ix_calls_end_time"), table_name="calls")
