"""where each call was handed (instance, node); blobs and multipart parts in the database

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("instance", sa.String(length=255), nullable=True))
    op.add_column("calls", sa.Column("node", sa.String(length=64), nullable=True))
    op.create_table(
        "blobs",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_blobs")),
    )
    op.create_table(
        "upload_parts",
        sa.Column("upload_key", sa.String(length=64), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("upload_key", "part", name=op.f("pk_upload_parts")),
    )


def downgrade() -> None:
    op.drop_table("upload_parts")
    op.drop_table("blobs")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("node")
        batch.drop_column("instance")
