"""versions, serving spec, round-trip check and aliases

Revision ID: registry_0002
Revises: registry_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "registry_0002"
down_revision = "registry_0001"
branch_labels = None
depends_on = None

EMPTY_JSON = sa.text("'{}'")


def upgrade() -> None:
    columns = [
        sa.Column("name", sa.String(256), nullable=False, server_default=""),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("format", sa.String(16), nullable=False, server_default="full"),
        sa.Column("root", sa.String(256), nullable=False, server_default=""),
        sa.Column("dtype", sa.String(32), nullable=False, server_default=""),
        sa.Column("size_bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("checkpoint_step", sa.Integer, nullable=False, server_default="0"),
        sa.Column("serving", sa.JSON, nullable=False, server_default=EMPTY_JSON),
        sa.Column("round_trip", sa.JSON, nullable=False, server_default=EMPTY_JSON),
        sa.Column("error", sa.JSON, nullable=False, server_default=EMPTY_JSON),
    ]
    for column in columns:
        op.add_column("registry_models", column)
    # Models registered before versions existed are each version 1 of their own name.
    op.execute("UPDATE registry_models SET name = id, "
               "root = CASE WHEN parent = '' THEN id ELSE parent END")
    op.create_index("ix_registry_models_name_version", "registry_models", ["name", "version"],
                    unique=True)
    op.create_index("ix_registry_models_parent", "registry_models", ["parent"])
    op.create_table(
        "registry_aliases",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("alias", sa.String(64), primary_key=True),
        sa.Column("model_id", sa.String(256), nullable=False, index=True),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("registry_aliases")
    op.drop_index("ix_registry_models_parent", "registry_models")
    op.drop_index("ix_registry_models_name_version", "registry_models")
    with op.batch_alter_table("registry_models") as batch:
        for name in ("name", "version", "format", "root", "dtype", "size_bytes",
                     "checkpoint_step", "serving", "round_trip", "error"):
            batch.drop_column(name)
