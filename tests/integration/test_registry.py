"""The registry service over real gRPC, NATS and a SQL database (SQLite or PostgreSQL)."""

import asyncio
import json

import grpc
import nats
import pytest

from services.common.artifacts import LocalArtifactStore
from services.common.errors import TuneForgeError
from services.common.events import decode
from services.common.grpc_client import channel
from services.common.grpc_server import running_server
from services.registry.server import make_setup
from services.registry.settings import RegistrySettings
from services.registry.tiny_model import build_tiny_model
from tuneforge.v1 import registry_pb2 as pb
from tuneforge.v1 import registry_pb2_grpc


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("base") / "tiny-qwen2")


@pytest.fixture
async def registry(tmp_path, tiny_dir, nats_url, event_prefix, database_url):
    settings = RegistrySettings(
        _env_file=None, data_dir=tmp_path, nats_url=nats_url, database_url=database_url,
        events_subject_prefix=event_prefix, events_stream=f"S{event_prefix}",
        base_models_dir=tiny_dir.parent)
    async with running_server("registry", "127.0.0.1:0", make_setup(settings)) as port:
        async with channel(f"127.0.0.1:{port}") as ch:
            yield registry_pb2_grpc.RegistryServiceStub(ch), settings


async def test_base_models_in_the_folder_are_registered_at_first_start(registry, tiny_dir):
    stub, settings = registry
    m = await stub.GetModel(pb.GetModelRequest(id="tiny-qwen2"))
    config = json.loads((tiny_dir / "config.json").read_text())
    assert (m.kind, m.owned_by, m.architecture) == ("base", "tuneforge", "Qwen2ForCausalLM")
    assert m.context_length == config["max_position_embeddings"]
    assert 0 < m.num_parameters < 5_000_000
    store = LocalArtifactStore(settings.artifact_root)
    assert store.exists(f"{m.artifact_prefix}/config.json")


async def test_fine_tuned_model_keeps_its_lineage(registry):
    stub, _ = registry
    req = pb.RegisterModelRequest(
        id="ft:tiny-qwen2:x:abc", kind="fine-tuned", parent="tiny-qwen2",
        artifact_prefix="models/tiny-qwen2",
        lineage=pb.Lineage(base_model="tiny-qwen2", training_file="file-1",
                           training_file_sha256="ab" * 32, job_id="ftjob-1",
                           hyperparameters_json='{"n_epochs": 3}', metrics={"train_loss": 0.5}))
    await stub.RegisterModel(req)
    m = await stub.GetModel(pb.GetModelRequest(id="ft:tiny-qwen2:x:abc"))
    assert m.parent == "tiny-qwen2"
    assert (m.lineage.job_id, m.lineage.training_file) == ("ftjob-1", "file-1")
    assert json.loads(m.lineage.hyperparameters_json) == {"n_epochs": 3}
    assert dict(m.lineage.metrics) == {"train_loss": 0.5}


async def test_registration_publishes_model_registered(registry, nats_url, event_prefix):
    stub, _ = registry
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.jetstream().pull_subscribe(
            f"{event_prefix}.v1.*.registry.model.registered", stream=f"S{event_prefix}")
        msgs = await asyncio.wait_for(sub.fetch(1), 5)  # tiny-qwen2's, from the bootstrap
        event = decode(msgs[0].subject, msgs[0].data)
        # Registered at start, in no project's request: the default project's.
        assert msgs[0].subject == f"{event_prefix}.v1.default.registry.model.registered"
        assert (event.model, event.project) == ("tiny-qwen2", "default")
    finally:
        await nc.drain()


async def test_unknown_model_is_model_not_found_naming_it(registry):
    stub, _ = registry
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.GetModel(pb.GetModelRequest(id="nope"))
    err = TuneForgeError.from_rpc_error(e.value)
    assert (err.code, err.param) == ("model_not_found", "model")
    assert "'nope'" in err.message


async def test_fine_tuned_model_with_unregistered_parent_is_refused(registry):
    stub, _ = registry
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.RegisterModel(pb.RegisterModelRequest(
            id="ft:x", kind="fine-tuned", parent="ghost", artifact_prefix="models/tiny-qwen2"))
    err = TuneForgeError.from_rpc_error(e.value)
    assert (err.code, err.param) == ("invalid_argument", "parent")


async def test_model_without_config_in_the_store_is_refused(registry):
    stub, _ = registry
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.RegisterModel(pb.RegisterModelRequest(
            id="empty", kind="base", artifact_prefix="models/empty"))
    err = TuneForgeError.from_rpc_error(e.value)
    assert err.param == "artifact_prefix" and "config.json" in err.message


async def test_list_pages_through_every_model_once(registry):
    stub, _ = registry
    for i in range(5):
        await stub.RegisterModel(pb.RegisterModelRequest(
            id=f"copy-{i}", kind="base", artifact_prefix="models/tiny-qwen2"))
    seen, after = [], ""
    while True:
        page = await stub.ListModels(pb.ListModelsRequest(limit=2, after=after))
        seen += [m.id for m in page.data]
        if not page.has_more:
            break
        after = page.data[-1].id
    assert sorted(seen) == sorted(["tiny-qwen2"] + [f"copy-{i}" for i in range(5)])
