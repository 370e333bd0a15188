"""A registry and an inference service on free ports, in-process, for the inference tests."""

import asyncio
import atexit
import functools
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import nats
import torch
import uvicorn
from transformers import AutoModelForCausalLM, AutoTokenizer

from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.common.chat import tokenize_prompt
from services.common.errors import TuneForgeError
from services.common.events import Event, decode
from services.common.grpc_client import channel
from services.common.grpc_server import running_server
from services.inference.loading import EngineFactory
from services.inference.server import make_setup as inference_setup
from services.inference.settings import InferenceSettings
from services.registry.server import make_setup as registry_setup
from services.registry.settings import RegistrySettings
from services.registry.tiny_model import build_tiny_model
from tests.support import free_port
from tuneforge.v1 import inference_pb2 as pb
from tuneforge.v1 import inference_pb2_grpc, registry_pb2_grpc


@dataclass
class Stack:
    registry: registry_pb2_grpc.RegistryServiceStub
    settings: InferenceSettings
    engine_factory: EngineFactory | None
    events: list[Event] = field(default_factory=list)
    inference: inference_pb2_grpc.InferenceServiceStub | None = None
    common: dict = field(default_factory=dict)  # settings every service of the test shares
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
    """An inference replica at settings.advertise_addr, where its heartbeats say it is."""
    async with running_server("inference", settings.address,
                              inference_setup(settings, engine_factory)):
        async with channel(settings.address) as ch:
            yield inference_pb2_grpc.InferenceServiceStub(ch)


def replica_settings(common: dict, registry_addr: str, **kw) -> InferenceSettings:
    """Settings of one inference replica on a free port of its own, beating every 0.2 s."""
    return InferenceSettings(registry_addr=registry_addr,
                             advertise_addr=f"127.0.0.1:{free_port()}",
                             heartbeat_interval_s=0.2, **common, **kw)


@asynccontextmanager
async def gateway(settings: InferenceSettings) -> AsyncIterator[str]:
    """The gateway in this event loop on a free port, routed by the replicas' heartbeats;
    yields its base URL."""
    port = free_port()
    app = create_app(GatewaySettings(
        _env_file=None, port=port, inference_addr=settings.address,
        registry_addr=settings.registry_addr, nats_url=settings.nats_url,
        events_subject_prefix=settings.events_subject_prefix))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           lifespan="on"))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(20):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


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
                       replica_settings(common, f"127.0.0.1:{registry_port}"), engine_factory)
        result.common = common

        async def record(msg):
            result.events.append(decode(msg.subject, msg.data))

        await nc.subscribe(f"{prefix}.v1.*.inference.>", cb=record)
        await result.start_inference()
        stack.push_async_callback(result.stop_inference)
        yield result


@functools.cache
def tiny_model_source() -> Path:
    """tiny-qwen2, built once per test process into a folder removed at exit."""
    root = Path(tempfile.mkdtemp(prefix="tiny-qwen2-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return build_tiny_model(root / "tiny-qwen2")


def write_model(models_dir: Path, name: str) -> Path:
    """A copy of tiny-qwen2 named `name`: a model the registry accepts and verifies."""
    return Path(shutil.copytree(tiny_model_source(), models_dir / name))


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


def build_scripted_model(base_dir: Path, out_dir: Path, reply: str) -> Path:
    """A copy of the base model whose greedy reply to any prompt is `reply`, then <|im_end|>.

    With attention and MLP outputs zeroed, the last hidden state depends on the current token
    only; an untied output layer then maps each token of the reply to the next one.
    """
    shutil.copytree(base_dir, out_dir)
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    model = AutoModelForCausalLM.from_pretrained(out_dir)
    start = tokenize_prompt(tokenizer, [{"role": "user", "content": "hi"}])[-1]
    chain = [start, *tokenizer(reply, add_special_tokens=False)["input_ids"],
             tokenizer.convert_tokens_to_ids("<|im_end|>")]
    assert len(set(chain)) == len(chain), "each token may have one successor only"
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        hidden = model.model.norm(model.model.embed_tokens.weight[chain[:-1]])
        head = torch.zeros_like(model.model.embed_tokens.weight)
        head[chain[1:]] = 100 * hidden / hidden.norm(dim=-1, keepdim=True)
    model.config.tie_word_embeddings = False
    model.lm_head.weight = torch.nn.Parameter(head)
    model.save_pretrained(out_dir)
    return out_dir
