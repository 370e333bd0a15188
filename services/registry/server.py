"""Wiring of the registry process: database, artifact store, events, inference client, servicer."""

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import grpc

from services.common import db
from services.common.artifacts import open_store
from services.common.events import EventBus
from services.common.grpc_client import open_channel
from services.common.grpc_server import run
from services.common.metrics import ServiceMetrics
from services.registry.deployments import InferenceDeployments
from services.registry.service import RegistryService
from services.registry.servicer import RegistryServicer
from services.registry.settings import RegistrySettings
from services.registry.store import ModelStore
from services.registry.versions import Versions
from tuneforge.v1 import registry_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def make_setup(settings: RegistrySettings, metrics: ServiceMetrics | None = None):
    """The server's setup; its service metrics go to `metrics` (served by running_server)."""
    metrics = metrics or ServiceMetrics("registry")

    async def setup(stack: AsyncExitStack, server: grpc.aio.Server) -> None:
        sessions = await db.open_database(
            stack, settings.database_url or settings.sqlite_url("registry"), MIGRATIONS,
            "alembic_version_registry")
        events = await EventBus.open(stack, settings)
        events.observe(metrics.on_event)
        # Only DeleteModel uses it; the channel connects lazily, so the registry starts first.
        inference = open_channel(stack, settings.inference_addr)
        artifacts = await asyncio.to_thread(open_store, settings)
        service = RegistryService(ModelStore(sessions), artifacts, events, settings)
        await service.bootstrap_base_models(settings.base_models_dir)
        versions = Versions(service, InferenceDeployments(
            inference, settings.inference_addr, settings.inference_timeout_s))
        registry_pb2_grpc.add_RegistryServiceServicer_to_server(
            RegistryServicer(service, versions), server)

    return setup


def main() -> None:
    settings = RegistrySettings()
    metrics = ServiceMetrics("registry")
    run("registry", settings.listen_addr or settings.registry_addr, make_setup(settings, metrics),
        settings, metrics, settings.metrics_port)
