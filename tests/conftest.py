"""Fixtures shared by every test: a real NATS server, isolated event subjects, databases, and
the whole local platform (used by the end-to-end and browser tests, started once)."""

import os
import secrets
import uuid
from pathlib import Path

import json

import pytest

from tests.support import free_port, start_nats

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


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


@pytest.fixture(scope="session")
def base_model_dir(tmp_path_factory):
    """The tiny base model, built the way `make model` builds it."""
    from services.registry.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("base-models") / "tiny-qwen2")


@pytest.fixture(scope="session")
def stack(tmp_path_factory, base_model_dir):
    root = tmp_path_factory.mktemp("stack")
    env = {
        "TUNEFORGE_DATA_DIR": str(root / "data"),
        "TUNEFORGE_REGISTRY_BASE_MODELS_DIR": str(base_model_dir.parent),
        "TUNEFORGE_NATS_URL": f"nats://127.0.0.1:{free_port()}",
        "TUNEFORGE_GATEWAY_PORT": str(free_port()),
        **{f"TUNEFORGE_{s}_ADDR": f"127.0.0.1:{free_port()}"
           for s in ("DATASET", "TRAINING", "REGISTRY", "INFERENCE")},
        **{f"TUNEFORGE_{s}_METRICS_PORT": str(free_port())
           for s in ("DATASET", "TRAINING", "REGISTRY", "INFERENCE")},
    }
    from services.local_stack import LocalStack

    s = LocalStack(env=env, log_dir=root / "logs")
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def demo_hyperparameters() -> dict:
    return json.loads((EXAMPLES / "self_cognition.hyperparameters.json").read_text())
