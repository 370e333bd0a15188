"""checkpoints, pause/resume, validation, evaluation, automations, agents

Revision ID: training_0002
Revises: training_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "training_0002"
down_revision = "training_0001"
branch_labels = None
depends_on = None

_JOB_COLUMNS = (
    ("validation_file_key", sa.String(512), ""),
    ("eval_prompts", sa.JSON, None),
    ("evaluation", sa.JSON, None),
    ("auto_deploy", sa.Boolean, sa.false()),
    ("alias", sa.String(64), ""),
    ("deployment", sa.String(64), ""),
    ("control", sa.String(16), ""),
    ("resume", sa.JSON, None),
    ("agent", sa.String(128), ""),
    ("heartbeat_at", sa.BigInteger, "0"),
    ("step", sa.Integer, "0"),
    ("total_steps", sa.Integer, "0"),
    ("estimated_finish", sa.BigInteger, "0"),
    ("project", sa.String(64), ""),
)


def upgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        for name, type_, default in _JOB_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=default is None,
                                       server_default=default))
        batch.create_index("ix_training_jobs_project", ["project"])
    op.create_table(
        "training_checkpoints",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("job_id", sa.String(64), nullable=False, index=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("model", sa.String(300), nullable=False),
        sa.Column("artifact_prefix", sa.String(512), nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
    )
    op.create_table(
        "training_agents",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("seen_at", sa.BigInteger, nullable=False, index=True),
        sa.Column("cuda_devices", sa.Integer, nullable=False),
        sa.Column("gpu_memory_bytes", sa.BigInteger, nullable=False),
        sa.Column("host_memory_bytes", sa.BigInteger, nullable=False),
        sa.Column("cpu_count", sa.Integer, nullable=False),
        sa.Column("bf16", sa.Boolean, nullable=False),
        sa.Column("max_ranks", sa.Integer, nullable=False),
        sa.Column("max_jobs", sa.Integer, nullable=False),
        sa.Column("running", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("training_agents")
    op.drop_table("training_checkpoints")
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_index("ix_training_jobs_project")
        for name, _, _ in reversed(_JOB_COLUMNS):
            batch.drop_column(name)
