"""Deployment lifecycle over gRPC with a real registry, database and NATS, and fake engines."""

import asyncio
import shutil

import grpc
import pytest

from services.inference.model_cache import MANIFEST
from tests.integration.inference_stack import (
    chat,
    rpc_error,
    services,
    texts,
    tiny_model_source,
    wait_for_events,
    wait_for_status,
    write_model,
)
from tests.unit.inference_fakes import FakeEngine, write_lora_adapter
from tuneforge.v1 import inference_pb2 as pb
from tuneforge.v1 import registry_pb2


class Engines:
    """An engine factory that hands out FakeEngines and remembers them."""

    def __init__(self):
        self.made: list[FakeEngine] = []
        self.model_dirs = []
        self.specs = []
        self.load_gate: asyncio.Event | None = None
        self.load_error: Exception | None = None
        self.reply = lambda spec: "Hello<|im_end|>"

    def __call__(self, spec) -> FakeEngine:
        engine = FakeEngine(self.reply(spec))
        self.specs.append(spec)
        engine.load_gate, engine.load_error = self.load_gate, self.load_error
        self.made.append(engine)
        self.model_dirs.append(spec.model_dir)
        return engine


@pytest.fixture
def engines() -> Engines:
    return Engines()


@pytest.fixture
async def stack(tmp_path, nats_url, event_prefix, database_url, engines):
    models = tmp_path / "models"
    for name in ("fake-model", "second-model", "third-model"):
        write_model(models, name)
    async with services(tmp_path / "state", nats_url, event_prefix, database_url, models,
                        engines) as s:
        yield s


async def deploy(stack, model: str = "fake-model", **kw) -> pb.Deployment:
    return await stack.inference.CreateDeployment(pb.CreateDeploymentRequest(model=model, **kw))


async def test_deployment_is_pending_then_ready_with_created_and_ready_events(stack, engines):
    created = await deploy(stack)

    assert created.id.startswith("dep-")
    assert (created.model, created.status, created.backend) == ("fake-model", "pending", "auto")
    ready = await wait_for_status(stack.inference, created.id, "ready")
    assert ready.created_at == created.created_at
    events = await wait_for_events(stack, 2)
    assert [(type(e).__name__, e.deployment_id, e.status) for e in events] == [
        ("DeploymentCreated", created.id, "pending"), ("DeploymentReady", created.id, "ready")]
    assert (engines.model_dirs[0] / "config.json").is_file()


async def test_chat_while_the_model_loads_is_unavailable_then_served_once_ready(stack, engines):
    engines.load_gate = asyncio.Event()
    d = await deploy(stack)
    await wait_for_status(stack.inference, d.id, "loading")

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await chat(stack.inference, "fake-model")

    assert rpc_error(err.value) == (
        grpc.StatusCode.UNAVAILABLE, "unavailable", "model",
        f"The model 'fake-model' is still loading (deployment {d.id} is loading); "
        "try again when it is ready.")
    engines.load_gate.set()
    await wait_for_status(stack.inference, d.id, "ready")
    assert texts(await chat(stack.inference, "fake-model")) == {0: "Hello"}


async def test_chat_with_a_model_never_deployed_is_model_not_found(stack):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await chat(stack.inference, "fake-model")

    assert rpc_error(err.value) == (
        grpc.StatusCode.NOT_FOUND, "model_not_found", "model",
        "The model 'fake-model' does not exist or is not deployed.")


async def test_deploying_an_unregistered_model_is_model_not_found(stack):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await deploy(stack, "no-such-model")

    assert rpc_error(err.value) == (grpc.StatusCode.NOT_FOUND, "model_not_found", "model",
                                    "The model 'no-such-model' does not exist.")


async def test_deploying_a_model_that_is_already_deployed_is_a_conflict(stack):
    first = await deploy(stack)

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await deploy(stack)

    status, code, param, message = rpc_error(err.value)
    assert (status, code, param) == (grpc.StatusCode.FAILED_PRECONDITION, "conflict", "model")
    assert message.startswith(f"The model 'fake-model' is already deployed as {first.id} ")


async def test_unknown_backend_is_invalid_naming_backend(stack):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await deploy(stack, backend="vllm-turbo")

    assert rpc_error(err.value) == (
        grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument", "backend",
        "backend must be one of auto, transformers, vllm, not 'vllm-turbo'.")


async def test_engine_that_fails_to_load_marks_the_deployment_failed(stack, engines):
    engines.load_error = RuntimeError("CUDA out of memory")
    d = await deploy(stack)

    failed = await wait_for_status(stack.inference, d.id, "failed")

    message = "Loading the model 'fake-model' failed: RuntimeError: CUDA out of memory"
    assert (failed.error.code, failed.error.param, failed.error.message) == (
        "internal", "model", message)
    events = await wait_for_events(stack, 2)
    assert type(events[1]).__name__ == "DeploymentFailed"
    assert events[1].error == {"code": "internal", "param": "model", "message": message}
    assert engines.made[0].closed
    engines.load_error = None
    again = await deploy(stack)  # a failed deployment does not block a new one
    await wait_for_status(stack.inference, again.id, "ready")


async def test_deleting_a_loading_deployment_stops_the_load(stack, engines):
    engines.load_gate = asyncio.Event()
    d = await deploy(stack)
    await wait_for_status(stack.inference, d.id, "loading")
    async with asyncio.timeout(10):
        while not engines.made:  # the engine is loading (held by the gate)
            await asyncio.sleep(0.01)

    deleted = await stack.inference.DeleteDeployment(pb.DeleteDeploymentRequest(id=d.id))

    assert deleted.status == "deleted"
    events = await wait_for_events(stack, 2)
    assert [type(e).__name__ for e in events] == ["DeploymentCreated", "DeploymentDeleted"]
    async with asyncio.timeout(5):
        while not engines.made[0].closed:
            await asyncio.sleep(0.01)
    got = await stack.inference.GetDeployment(pb.GetDeploymentRequest(id=d.id))
    assert got.status == "deleted"


async def test_deleting_a_ready_deployment_unloads_it_and_stops_serving(stack, engines):
    d = await deploy(stack)
    await wait_for_status(stack.inference, d.id, "ready")

    await stack.inference.DeleteDeployment(pb.DeleteDeploymentRequest(id=d.id))

    assert engines.made[0].closed
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await chat(stack.inference, "fake-model")
    assert rpc_error(err.value)[:2] == (grpc.StatusCode.NOT_FOUND, "model_not_found")
    again = await stack.inference.DeleteDeployment(pb.DeleteDeploymentRequest(id=d.id))
    assert again.status == "deleted"


async def test_get_and_delete_of_an_unknown_deployment_are_not_found(stack):
    for call in (stack.inference.GetDeployment(pb.GetDeploymentRequest(id="dep-nope")),
                 stack.inference.DeleteDeployment(pb.DeleteDeploymentRequest(id="dep-nope"))):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert rpc_error(err.value) == (grpc.StatusCode.NOT_FOUND, "not_found", "id",
                                        "No deployment found with id 'dep-nope'.")


async def test_list_pages_through_every_deployment_once_ordered_by_creation(stack):
    made = [await deploy(stack, m) for m in ("fake-model", "second-model", "third-model")]

    first = await stack.inference.ListDeployments(pb.ListDeploymentsRequest(limit=2))
    rest = await stack.inference.ListDeployments(
        pb.ListDeploymentsRequest(limit=2, after=first.data[-1].id))

    assert (len(first.data), first.has_more, len(rest.data), rest.has_more) == (2, True, 1, False)
    # created_at has whole seconds; the id breaks ties, so pages never overlap or skip.
    listed = [(d.created_at, d.id) for d in [*first.data, *rest.data]]
    assert listed == sorted((d.created_at, d.id) for d in made)


async def test_deployments_are_loaded_again_after_a_restart(stack, engines):
    ready = await deploy(stack)
    await wait_for_status(stack.inference, ready.id, "ready")
    engines.load_error = RuntimeError("broken")
    failed = await deploy(stack, "second-model")
    await wait_for_status(stack.inference, failed.id, "failed")
    engines.load_error = None

    await stack.restart_inference()

    assert engines.made[0].closed  # the old process unloaded its engine on the way out
    await wait_for_status(stack.inference, ready.id, "ready")
    assert texts(await chat(stack.inference, "fake-model")) == {0: "Hello"}
    still = await stack.inference.GetDeployment(pb.GetDeploymentRequest(id=failed.id))
    assert still.status == "failed"
    assert len(engines.made) == 3


async def test_a_redeployed_model_reuses_its_download_until_its_files_change(stack, engines):
    d = await deploy(stack)
    await wait_for_status(stack.inference, d.id, "ready")
    cached = engines.model_dirs[0]
    (cached / "sentinel").write_text("still the same download")
    await stack.inference.DeleteDeployment(pb.DeleteDeploymentRequest(id=d.id))

    d = await deploy(stack)
    await wait_for_status(stack.inference, d.id, "ready")
    assert (engines.model_dirs[1], (cached / "sentinel").exists()) == (cached, True)

    await stack.inference.DeleteDeployment(pb.DeleteDeploymentRequest(id=d.id))
    artifacts = stack.settings.artifact_root
    (artifacts / "models" / "fake-model" / "tokenizer.json").write_text("{}")
    d = await deploy(stack)
    await wait_for_status(stack.inference, d.id, "ready")
    assert not (cached / "sentinel").exists()
    assert (cached / "tokenizer.json").is_file() and (cached / MANIFEST).is_file()


def register_copy(stack, model_id: str, **kw):
    """Register a copy of tiny-qwen2 under `model_id` (kw: name, kind, parent)."""
    prefix = f"models/{model_id}"
    shutil.copytree(tiny_model_source(), stack.settings.artifact_root / prefix)
    return stack.registry.RegisterModel(registry_pb2.RegisterModelRequest(
        id=model_id, artifact_prefix=prefix, **{"kind": "base", **kw}))


async def chat_text(stack, model: str) -> str:
    return texts(await chat(stack.inference, model))[0]


async def test_an_alias_deployment_follows_the_alias_when_it_moves(stack, engines):
    engines.reply = lambda spec: f"{spec.model_dir.name.split('-')[0]}<|im_end|>"
    for version in ("one", "two"):
        await register_copy(stack, version, name="named")
    await stack.registry.SetAlias(registry_pb2.SetAliasRequest(name="named", alias="prod",
                                                               model="one"))
    d = await deploy(stack, "named@prod")
    await wait_for_status(stack.inference, d.id, "ready")
    assert await chat_text(stack, "named@prod") == "one"

    await stack.registry.SetAlias(registry_pb2.SetAliasRequest(name="named", alias="prod",
                                                               model="two"))

    moved = await wait_for_event(stack, "DeploymentMoved")
    assert (moved.previous_model, moved.resolved_model) == ("one", "two")
    assert await chat_text(stack, "named@prod") == "two"
    got = await stack.inference.GetDeployment(pb.GetDeploymentRequest(id=d.id))
    assert (got.status, got.resolved_model, got.base_model) == ("ready", "two", "two")
    assert engines.made[0].closed and not engines.made[1].closed


async def test_a_deployed_adapter_is_served_on_its_base_which_other_deployments_share(
        stack, engines, tmp_path):
    engines.reply = lambda spec: "x<|im_end|>"
    prefix = "models/fake-model-lora"
    write_lora_adapter(tiny_model_source(), stack.settings.artifact_root / prefix, 4, 0)
    await stack.registry.RegisterModel(registry_pb2.RegisterModelRequest(
        id="fake-model-lora", kind="fine-tuned", parent="fake-model", artifact_prefix=prefix))

    d = await deploy(stack, "fake-model-lora")
    ready = await wait_for_status(stack.inference, d.id, "ready")
    base = await deploy(stack, "fake-model")
    await wait_for_status(stack.inference, base.id, "ready")

    assert (ready.base_model, ready.adapter, ready.resolved_model) == (
        "fake-model", True, "fake-model-lora")
    await chat(stack.inference, "fake-model-lora")
    await chat(stack.inference, "fake-model")
    assert len(engines.made) == 1  # one copy of the base weights for both deployments
    adapters = [r.adapter.name if r.adapter else None for r in engines.made[0].requests]
    assert adapters == ["fake-model-lora", None]
    await stack.inference.DeleteDeployment(pb.DeleteDeploymentRequest(id=base.id))
    assert not engines.made[0].closed  # the adapter's deployment still holds it
    await stack.inference.DeleteDeployment(pb.DeleteDeploymentRequest(id=d.id))
    assert engines.made[0].closed


async def test_an_undeployed_adapter_of_a_deployed_base_is_served_on_first_request(
        stack, engines):
    prefix = "models/lazy-lora"
    write_lora_adapter(tiny_model_source(), stack.settings.artifact_root / prefix, 4, 1)
    await stack.registry.RegisterModel(registry_pb2.RegisterModelRequest(
        id="lazy-lora", kind="fine-tuned", parent="fake-model", artifact_prefix=prefix))
    d = await deploy(stack, "fake-model")
    await wait_for_status(stack.inference, d.id, "ready")

    assert texts(await chat(stack.inference, "lazy-lora")) == {0: "Hello"}

    request = engines.made[0].requests[-1]
    assert request.adapter.name == "lazy-lora"
    assert (request.adapter.path / "adapter_config.json").is_file()


async def test_replicas_load_that_many_engines_and_share_the_requests(stack, engines):
    d = await deploy(stack, replicas=2, max_concurrent_requests=3, max_context=512)
    ready = await wait_for_status(stack.inference, d.id, "ready")

    await asyncio.gather(*(chat(stack.inference, "fake-model") for _ in range(4)))

    assert (ready.replicas, ready.max_concurrent_requests, ready.max_context) == (2, 3, 512)
    # Least outstanding requests: both replicas serve (exact counts depend on timing).
    assert len(engines.made) == 2
    assert sorted(len(e.requests) for e in engines.made)[0] >= 1
    assert sum(len(e.requests) for e in engines.made) == 4
    assert {(s.max_concurrent_requests, s.max_context) for s in engines.specs} == {(3, 512)}


@pytest.mark.parametrize(("options", "param", "message"), [
    ({"replicas": 17}, "replicas", "replicas must be between 1 and 16, not 17."),
    ({"gpus_per_replica": 1, "replicas": 2}, "gpus_per_replica",
     "2 replica(s) × 1 GPU(s) need 2 GPUs, but this inference service has 0."),
    ({"max_context": 4096}, "max_context",
     "max_context must be at most the model's context length 2048, not 4096."),
    ({"max_concurrent_requests": 2000}, "max_concurrent_requests",
     "max_concurrent_requests must be between 0 (the default) and 1024, not 2000."),
])
async def test_resource_hints_out_of_range_are_invalid_naming_them(stack, options, param,
                                                                   message):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await deploy(stack, **options)

    assert rpc_error(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument",
                                    param, message)


async def wait_for_event(stack, name: str, timeout: float = 10.0):
    async with asyncio.timeout(timeout):
        while not (found := [e for e in stack.events if type(e).__name__ == name]):
            await asyncio.sleep(0.02)
    return found[0]


async def test_a_vllm_deployment_is_sized_for_the_largest_adapter_of_its_base(stack, engines):
    for name, rank in (("small-lora", 8), ("big-lora", 32)):
        prefix = f"models/{name}"
        write_lora_adapter(tiny_model_source(), stack.settings.artifact_root / prefix, rank, 0)
        await stack.registry.RegisterModel(registry_pb2.RegisterModelRequest(
            id=name, kind="fine-tuned", parent="fake-model", artifact_prefix=prefix))

    d = await deploy(stack, backend="vllm")
    await wait_for_status(stack.inference, d.id, "ready")

    assert (engines.specs[0].backend, engines.specs[0].max_lora_rank) == ("vllm", 32)
