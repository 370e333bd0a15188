"""A whole local platform on free ports: NATS, the four services and the gateway."""

import json

import pytest

from services.local_stack import LocalStack
from services.registry.tiny_model import build_tiny_model
from tests.conftest import ROOT
from tests.support import free_port

EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def base_model_dir(tmp_path_factory):
    """The tiny base model, built the way `make model` builds it."""
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
    }
    s = LocalStack(env=env, log_dir=root / "logs")
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def demo_hyperparameters() -> dict:
    return json.loads((EXAMPLES / "self_cognition.hyperparameters.json").read_text())
