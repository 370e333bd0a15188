"""training_jobs and training_job_events tables

Revision ID: training_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "training_0001"
down_revision = None
branch_labels = ("training",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_jobs",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("finished_at", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("model_root", sa.String(256), nullable=False, server_default=""),
        sa.Column("training_file", sa.String(128), nullable=False),
        sa.Column("validation_file", sa.String(128), nullable=False, server_default=""),
        sa.Column("suffix", sa.String(64), nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("fine_tuned_model", sa.String(256), nullable=False, server_default=""),
        sa.Column("hyperparameters", sa.JSON, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("trained_tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("user_metadata", sa.JSON, nullable=False),
        sa.Column("error", sa.JSON, nullable=True),
        sa.Column("base_artifact_prefix", sa.String(512), nullable=False),
        sa.Column("training_file_key", sa.String(512), nullable=False),
        sa.Column("training_file_sha256", sa.String(64), nullable=False, server_default=""),
    )
    op.create_table(
        "training_job_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("job_id", sa.String(64), nullable=False, index=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("data_json", sa.Text, nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("training_job_events")
    op.drop_table("training_jobs")
