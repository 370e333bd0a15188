"""inference_deployments table

Revision ID: inference_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "inference_0001"
down_revision = None
branch_labels = ("inference",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inference_deployments",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("backend", sa.String(32), nullable=False),
        sa.Column("artifact_prefix", sa.String(512), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("error", sa.JSON, nullable=True),
    )
    op.create_index("ix_inference_deployments_model", "inference_deployments", ["model"])


def downgrade() -> None:
    op.drop_index("ix_inference_deployments_model", "inference_deployments")
    op.drop_table("inference_deployments")
