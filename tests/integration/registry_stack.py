"""The registry in-process on a free port, with a fake inference service behind real gRPC,
and the gateway app in front of it.

The fake answers ListDeployments from a list the test fills, so the registry tests depend only
on the inference contract.
"""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import nats

from gateway.api.registry.router import router as registry_router
from gateway.app import create_app
from gateway.clients import Clients
from gateway.settings import GatewaySettings
from services.common.errors import TuneForgeError
from services.common.events import Event, decode
from services.common.grpc_client import channel
from services.common.grpc_server import rpc, running_server
from services.registry.server import make_setup
from services.registry.settings import RegistrySettings
from tuneforge.v1 import inference_pb2, inference_pb2_grpc, registry_pb2_grpc


class FakeInference(inference_pb2_grpc.InferenceServiceServicer):
    """ListDeployments over `deployments`, two per page so the registry has to page."""

    def __init__(self):
        self.deployments: list[inference_pb2.Deployment] = []

    def deploy(self, model: str, status: str = "ready") -> inference_pb2.Deployment:
        d = inference_pb2.Deployment(id=f"dep-{len(self.deployments)}", model=model,
                                     status=status, backend="transformers")
        self.deployments.append(d)
        return d

    @rpc
    async def ListDeployments(self, request, context) -> inference_pb2.ListDeploymentsResponse:
        ids = [d.id for d in self.deployments]
        start = ids.index(request.after) + 1 if request.after in ids else 0
        page = self.deployments[start:start + 2]
        return inference_pb2.ListDeploymentsResponse(
            data=page, has_more=start + 2 < len(self.deployments))


@dataclass
class Registry:
    stub: registry_pb2_grpc.RegistryServiceStub
    settings: RegistrySettings
    inference: FakeInference
    address: str = ""
    events: list[Event] = field(default_factory=list)

    def events_of(self, event_type: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, event_type)]


def registry_settings(root: Path, nats_url: str, prefix: str, database_url: str,
                      **overrides) -> RegistrySettings:
    """Settings of a registry of this test's own: folder, database, subjects, stream."""
    fields = dict(data_dir=root, artifact_dir=root / "artifacts", nats_url=nats_url,
                  database_url=database_url, events_subject_prefix=prefix,
                  events_stream=f"S{prefix}", base_models_dir=root / "no-base-models",
                  import_dirs=[root / "imports"], _env_file=None)
    return RegistrySettings(**{**fields, **overrides})


@asynccontextmanager
async def registry(settings: RegistrySettings,
                   inference_up: bool = True) -> AsyncIterator[Registry]:
    """The registry serving `settings`; the fake inference service runs unless told not to."""
    async with AsyncExitStack() as stack:
        fake = FakeInference()
        if inference_up:
            async def inference_setup(_stack, server) -> None:
                inference_pb2_grpc.add_InferenceServiceServicer_to_server(fake, server)

            port = await stack.enter_async_context(
                running_server("inference", "127.0.0.1:0", inference_setup))
            settings = settings.model_copy(update={"inference_addr": f"127.0.0.1:{port}"})
        nc = await nats.connect(settings.nats_url)
        stack.push_async_callback(nc.drain)
        result = Registry(None, settings, fake)  # type: ignore[arg-type]

        async def collect(msg) -> None:
            result.events.append(decode(msg.subject, msg.data))

        await nc.subscribe(f"{settings.events_subject_prefix}.v1.*.registry.>", cb=collect)
        port = await stack.enter_async_context(
            running_server("registry", "127.0.0.1:0", make_setup(settings)))
        result.address = f"127.0.0.1:{port}"
        ch = await stack.enter_async_context(channel(result.address))
        result.stub = registry_pb2_grpc.RegistryServiceStub(ch)
        yield result


@asynccontextmanager
async def gateway(reg: Registry) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the gateway app, calling `reg` over gRPC."""
    settings = GatewaySettings(_env_file=None, registry_addr=reg.address,
                               inference_addr=reg.settings.inference_addr)
    app = create_app(settings)
    if not any(getattr(r, "path", "").startswith("/v1/registry") for r in app.routes):
        app.include_router(registry_router)  # until gateway/app.py includes it
    async with AsyncExitStack() as stack:
        # ASGITransport runs no lifespan: open the clients the lifespan would.
        app.state.clients = await Clients.open(settings, stack)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://gateway") as client:
            yield client


def rpc_error(e: grpc.aio.AioRpcError) -> tuple[str, str | None, str]:
    """(code, param, message) of the TuneForgeError a service raised."""
    err = TuneForgeError.from_rpc_error(e)
    return err.code.value, err.param, err.message
