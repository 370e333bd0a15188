"""A registry and an inference service on free ports, in-process, for the inference tests."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import nats

from services.common.errors import TuneForgeError
from services.common.events import Event, decode
from services.common.grpc_client import channel
from services.common.grpc_server import running_server
from services.inference.server import make_setup as inference_setup
from services.inference.service import EngineFactory
from services.inference.settings import InferenceSettings
from services.registry.server import make_setup as registry_setup
from services.registry.settings import RegistrySettings
from tuneforge.v1 import inference_pb2 as pb
from tuneforge.v1 import inference_pb2_grpc, registry_pb2_grpc


@dataclass
class Stack:
    registry: registry_pb2_grpc.RegistryServiceStub
    settings: InferenceSettings
    engine_factory: EngineFactory | None
    events: list[Event] = field(default_factory=list)
    inference: inference_pb2_grpc.InferenceServiceStub | None = None
    _inference_stack: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def start_inference(self) -> None:
        self.inference = await self._inference_stack.enter_async_context(
            inference_server(self.settings, self.engine_factory))

    async def stop_inference(self) -> None:
        await self._inference_stack.aclose()
        self._inference_stack, self.inference = AsyncExitStack(), None

    async def restart_inference(self) -> None:
        """Stop the inference process gracefully and start a new one on the same state."""
        await self.stop_inference()
        await self.start_inference()


def settings_for(root: Path, nats_url: str, prefix: str, database_url: str) -> dict:
    """Fields both services share; every test has its own directory, prefix and database."""
    return dict(data_dir=root, artifact_dir=root / "artifacts", nats_url=nats_url,
                events_subject_prefix=prefix, database_url=database_url, _env_file=None)


@asynccontextmanager
async def inference_server(settings: InferenceSettings,
                           engine_factory: EngineFactory | None = None
                           ) -> AsyncIterator[inference_pb2_grpc.InferenceServiceStub]:
    async with running_server("inference", "127.0.0.1:0",
                              inference_setup(settings, engine_factory)) as port:
        async with channel(f"127.0.0.1:{port}") as ch:
            yield inference_pb2_grpc.InferenceServiceStub(ch)


@asynccontextmanager
async def services(root: Path, nats_url: str, prefix: str, database_url: str,
                   base_models_dir: Path,
                   engine_factory: EngineFactory | None = None) -> AsyncIterator[Stack]:
    """Registry (registering every model folder in `base_models_dir`) and inference."""
    common = settings_for(root, nats_url, prefix, database_url)
    async with AsyncExitStack() as stack:
        nc = await nats.connect(nats_url)
        stack.push_async_callback(nc.drain)
        registry_port = await stack.enter_async_context(running_server(
            "registry", "127.0.0.1:0",
            registry_setup(RegistrySettings(base_models_dir=base_models_dir, **common))))
        registry_channel = await stack.enter_async_context(
            channel(f"127.0.0.1:{registry_port}"))
        result = Stack(registry_pb2_grpc.RegistryServiceStub(registry_channel),
                       InferenceSettings(registry_addr=f"127.0.0.1:{registry_port}", **common),
                       engine_factory)

        async def record(msg):
            result.events.append(decode(msg.subject, msg.data))

        await nc.subscribe(f"{prefix}.v1.inference.>", cb=record)
        await result.start_inference()
        stack.push_async_callback(result.stop_inference)
        yield result


def write_config_only_model(models_dir: Path, name: str) -> Path:
    """A model folder the registry accepts (config.json) but that holds no weights."""
    folder = models_dir / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(
        {"architectures": ["Qwen2ForCausalLM"], "max_position_embeddings": 64}))
    return folder


async def wait_for_status(stub: inference_pb2_grpc.InferenceServiceStub, deployment_id: str,
                          *statuses: str, timeout: float = 60.0) -> pb.Deployment:
    """Poll the deployment until it reaches one of `statuses`."""
    async with asyncio.timeout(timeout):
        while True:
            d = await stub.GetDeployment(pb.GetDeploymentRequest(id=deployment_id))
            if d.status in statuses:
                return d
            await asyncio.sleep(0.05)


async def wait_for_events(stack: Stack, count: int, timeout: float = 10.0) -> list[Event]:
    async with asyncio.timeout(timeout):
        while len(stack.events) < count:
            await asyncio.sleep(0.02)
    return stack.events


def rpc_error(err: grpc.aio.AioRpcError) -> tuple[grpc.StatusCode, str, str | None, str]:
    """(status, code, param, message) of a failed call, as the gateway will see it."""
    e = TuneForgeError.from_rpc_error(err)
    return err.code(), e.code.value, e.param, e.message


def chat_request(model: str, content: str = "hi", **params) -> pb.ChatCompletionRequest:
    return pb.ChatCompletionRequest(model=model, messages=[pb.ChatMessage(role="user",
                                                                          content=content)],
                                    params=pb.SamplingParams(**params))


async def chat(stub: inference_pb2_grpc.InferenceServiceStub, model: str, content: str = "hi",
               **params) -> list[pb.CompletionChunk]:
    return [c async for c in stub.ChatCompletion(chat_request(model, content, **params))]


def texts(chunks: list[pb.CompletionChunk]) -> dict[int, str]:
    out: dict[int, str] = {}
    for c in chunks:
        if not c.HasField("usage"):
            out[c.index] = out.get(c.index, "") + c.text
    return out


def finishes(chunks: list[pb.CompletionChunk]) -> dict[int, str]:
    return {c.index: c.finish_reason for c in chunks if c.finish_reason}
