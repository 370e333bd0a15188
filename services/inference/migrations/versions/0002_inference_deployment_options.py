"""deployment options: resolved and base model, adapter, replicas, resource hints

Revision ID: inference_0002
Revises: inference_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "inference_0002"
down_revision = "inference_0001"
branch_labels = None
depends_on = None

COLUMNS = [
    ("resolved_model", sa.String(256), ""),
    ("base_model", sa.String(256), ""),
    ("adapter", sa.Boolean, sa.false()),
    ("replicas", sa.Integer, "1"),
    ("gpus_per_replica", sa.Integer, "0"),
    ("max_context", sa.Integer, "0"),
    ("max_concurrent_requests", sa.Integer, "0"),
]


def upgrade() -> None:
    # batch_alter_table: SQLite cannot add NOT NULL columns in place.
    with op.batch_alter_table("inference_deployments") as batch:
        for name, type_, default in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=False, server_default=default))


def downgrade() -> None:
    with op.batch_alter_table("inference_deployments") as batch:
        for name, _, _ in COLUMNS:
            batch.drop_column(name)
