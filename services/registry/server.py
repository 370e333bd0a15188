"""Wiring of the registry process: database, artifact store, events, servicer."""

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import grpc

from services.common import db
from services.common.artifacts import open_store
from services.common.events import EventBus
from services.common.grpc_server import run
from services.registry.service import RegistryService
from services.registry.servicer import RegistryServicer
from services.registry.settings import RegistrySettings
from services.registry.store import ModelStore
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
        service = RegistryService(ModelStore(db.sessionmaker(engine)), open_store(settings), events)
        await service.bootstrap_base_models(settings.base_models_dir)
        registry_pb2_grpc.add_RegistryServiceServicer_to_server(RegistryServicer(service), server)

    return setup


def main() -> None:
    settings = RegistrySettings()
    run("registry", settings.listen_addr or settings.registry_addr, make_setup(settings),
        settings.log_level)
