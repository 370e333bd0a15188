"""dataset_files: counts of the validation report

Revision ID: dataset_0002
Revises: dataset_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "dataset_0002"
down_revision = "dataset_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dataset_files", sa.Column("num_errors", sa.Integer, nullable=False,
                                             server_default="0"))
    op.add_column("dataset_files", sa.Column("num_warnings", sa.Integer, nullable=False,
                                             server_default="0"))


def downgrade() -> None:
    op.drop_column("dataset_files", "num_warnings")
    op.drop_column("dataset_files", "num_errors")
