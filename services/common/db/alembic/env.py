"""Shared Alembic environment: the URL and version table come from `Config.attributes`."""

from alembic import context
from sqlalchemy import create_engine

cfg = context.config
engine = create_engine(cfg.attributes["url"])
with engine.connect() as connection:
    context.configure(connection=connection, version_table=cfg.attributes["version_table"])
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
