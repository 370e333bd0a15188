"""registry_models table

Revision ID: registry_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "registry_0001"
down_revision = None
branch_labels = ("registry",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_models",
        sa.Column("id", sa.String(256), primary_key=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("owned_by", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("parent", sa.String(256), nullable=False, server_default=""),
        sa.Column("artifact_prefix", sa.String(512), nullable=False),
        sa.Column("architecture", sa.String(128), nullable=False, server_default=""),
        sa.Column("num_parameters", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("context_length", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.String(32), nullable=False, server_default="ready"),
        sa.Column("lineage", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("registry_models")
