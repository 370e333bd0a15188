"""dataset_files table

Revision ID: dataset_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "dataset_0001"
down_revision = None
branch_labels = ("dataset",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_files",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("filename", sa.String(512), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_details", sa.Text, nullable=False, server_default=""),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("artifact_key", sa.String(512), nullable=False),
        sa.Column("num_examples", sa.Integer, nullable=False),
        sa.Column("format", sa.String(64), nullable=False),
    )
    op.create_index("ix_dataset_files_sha256", "dataset_files", ["sha256"])
    op.create_index("ix_dataset_files_created_ns_id", "dataset_files", ["created_ns", "id"])


def downgrade() -> None:
    op.drop_table("dataset_files")
