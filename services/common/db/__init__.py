"""SQL metadata stores: one async engine per service, schema managed by Alembic.

Each service owns its tables (its own `DeclarativeBase`) and its migrations folder; all share
the Alembic environment here and keep their own version table, so several services can use one
PostgreSQL database or each their own SQLite file.
"""

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

ALEMBIC_DIR = Path(__file__).parent / "alembic"


def _driver_url(url: str, asynchronous: bool) -> str:
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        u = u.set(drivername="sqlite+aiosqlite" if asynchronous else "sqlite")
    elif backend == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def migrate(url: str, versions_dir: Path, version_table: str) -> None:
    """Bring the database at `url` to the newest revision in `versions_dir`."""
    if make_url(url).get_backend_name() == "sqlite" and make_url(url).database:
        Path(make_url(url).database).parent.mkdir(parents=True, exist_ok=True)
    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    cfg.set_main_option("version_locations", str(versions_dir))
    cfg.attributes["url"] = _driver_url(url, asynchronous=False)
    cfg.attributes["version_table"] = version_table
    command.upgrade(cfg, "head")


def create_engine(url: str) -> AsyncEngine:
    """Async engine; SQLite gets a busy timeout so concurrent writers wait instead of failing."""
    kw = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    return create_async_engine(_driver_url(url, asynchronous=True), **kw)


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


async def open_database(stack: AsyncExitStack, url: str, versions_dir: Path,
                        version_table: str) -> async_sessionmaker:
    """Migrate, open an engine disposed by `stack`, and return a session factory."""
    await asyncio.to_thread(migrate, url, versions_dir, version_table)
    engine = create_engine(url)
    stack.push_async_callback(engine.dispose)
    return sessionmaker(engine)
