"""Fixtures shared by every test: a real NATS server, isolated event subjects, databases."""

import os
import secrets
import uuid
from pathlib import Path

import pytest

from tests.support import start_nats

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory):
    """One real nats-server (JetStream on) for the session; tests isolate by subject prefix."""
    proc, url = start_nats(tmp_path_factory.mktemp("nats"))
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def event_prefix() -> str:
    """A subject prefix of this test's own, so tests never see each other's events."""
    return f"tt{secrets.token_hex(4)}"


@pytest.fixture
def database_url(tmp_path):
    """A fresh database for one test: PostgreSQL when TUNEFORGE_TEST_DATABASE_URL is set."""
    base = os.environ.get("TUNEFORGE_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = f"tf_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(make_url(base).set(drivername="postgresql+psycopg"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
