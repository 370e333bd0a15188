"""Wiring of the registry process: database, artifact store, events, inference client, servicer."""

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import grpc

from services.common import db
from services.common.artifacts import open_store
from services.common.events import EventBus
from services.common.grpc_client import channel
from services.common.grpc_server import run
from services.registry.deployments import InferenceDeployments
from services.registry.service import RegistryService
from services.registry.servicer import RegistryServicer
from services.registry.settings import RegistrySettings
from services.registry.store import ModelStore
from services.registry.versions import Versions
from tuneforge.v1 import registry_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def make_setup(settings: RegistrySettings):
    async def setup(stack: AsyncExitStack, server: grpc.aio.Server) -> None:
        url = settings.database_url or settings.sqlite_url("registry")
        await asyncio.to_thread(db.migrate, url, MIGRATIONS, "alembic_version_registry")
        engine = db.create_engine(url)
        stack.push_async_callback(engine.dispose)
        events = await EventBus(settings.nats_url, settings.events_stream,
                                settings.events_subject_prefix).connect()
        stack.push_async_callback(events.close)
        # Only DeleteModel uses it; the channel connects lazily, so the registry starts first.
        inference = channel(settings.inference_addr)
        stack.push_async_callback(inference.close)
        artifacts = await asyncio.to_thread(open_store, settings)
        service = RegistryService(ModelStore(db.sessionmaker(engine)), artifacts, events,
                                  settings)
        await service.bootstrap_base_models(settings.base_models_dir)
        versions = Versions(service, InferenceDeployments(
            inference, settings.inference_addr, settings.inference_timeout_s))
        registry_pb2_grpc.add_RegistryServiceServicer_to_server(
            RegistryServicer(service, versions), server)

    return setup


def main() -> None:
    settings = RegistrySettings()
    run("registry", settings.listen_addr or settings.registry_addr, make_setup(settings),
        settings.log_level)
