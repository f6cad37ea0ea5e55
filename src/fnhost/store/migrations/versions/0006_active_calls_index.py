"""index of the calls not ended, by project and function: counted against the overload limits

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_calls_state_project_function_id",
        "calls",
        ["state", "project", "function_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_calls_state_project_function_id", table_name="calls")
