"""gRPC stubs of the four services, opened in the app's lifespan and closed on shutdown."""

from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from gateway.settings import GatewaySettings
from services.common.errors import TuneForgeError
from services.common.grpc_client import channel
from tuneforge.v1 import (
    dataset_pb2_grpc,
    inference_pb2_grpc,
    registry_pb2_grpc,
    training_pb2_grpc,
)


@dataclass
class Clients:
    dataset: dataset_pb2_grpc.DatasetServiceStub
    training: training_pb2_grpc.TrainingServiceStub
    registry: registry_pb2_grpc.RegistryServiceStub
    inference: inference_pb2_grpc.InferenceServiceStub
    timeout: float

    @classmethod
    async def open(cls, settings: GatewaySettings, stack: AsyncExitStack) -> "Clients":
        def ch(addr):
            c = channel(addr)
            stack.push_async_callback(c.close)
            return c

        return cls(
            dataset=dataset_pb2_grpc.DatasetServiceStub(ch(settings.dataset_addr)),
            training=training_pb2_grpc.TrainingServiceStub(ch(settings.training_addr)),
            registry=registry_pb2_grpc.RegistryServiceStub(ch(settings.registry_addr)),
            inference=inference_pb2_grpc.InferenceServiceStub(ch(settings.inference_addr)),
            timeout=settings.rpc_timeout_s,
        )


async def get_clients(request: Request) -> Clients:
    """The stubs as the caller's project sees them (raw when tenancy is not open)."""
    # async: FastAPI runs a plain def dependency in a worker thread, a hop per request.
    clients = request.app.state.clients
    tenancy = getattr(request.app.state, "tenancy", None)
    if tenancy is None:
        return clients
    principal = getattr(request.state, "principal", None)
    if principal is None:  # fail closed: a route the auth middleware let through unchecked
        raise TuneForgeError("unauthenticated", "This route needs an API key.")
    return tenancy.view(clients, principal)


ClientsDep = Annotated[Clients, Depends(get_clients)]
