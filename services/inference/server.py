"""Wiring of the inference process: database, artifact store, events, registry, engines."""

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import grpc

from services.common import db
from services.common.artifacts import open_store
from services.common.events import EventBus
from services.common.grpc_client import channel
from services.common.grpc_server import run
from services.inference.engines import Engine, create_engine
from services.inference.model_cache import ModelCache
from services.inference.registry_client import RegistryModels
from services.inference.service import DeploymentService, EngineFactory
from services.inference.servicer import InferenceServicer
from services.inference.serving import ChatServing
from services.inference.settings import InferenceSettings
from services.inference.store import DeploymentStore
from tuneforge.v1 import inference_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def make_setup(settings: InferenceSettings, engine_factory: EngineFactory | None = None):
    """The server's setup; `engine_factory` replaces the configured engines (tests pass fakes)."""
    def configured_engine(backend: str, model_dir: Path) -> Engine:
        return create_engine(backend, model_dir, settings.device)

    async def setup(stack: AsyncExitStack, server: grpc.aio.Server) -> None:
        url = settings.database_url or settings.sqlite_url("inference")
        await asyncio.to_thread(db.migrate, url, MIGRATIONS, "alembic_version_inference")
        db_engine = db.create_engine(url)
        stack.push_async_callback(db_engine.dispose)
        events = await EventBus(settings.nats_url, settings.events_stream,
                                settings.events_subject_prefix).connect()
        stack.push_async_callback(events.close)
        registry_channel = channel(settings.registry_addr)
        stack.push_async_callback(registry_channel.close)
        deployments = DeploymentService(
            DeploymentStore(db.sessionmaker(db_engine)),
            ModelCache(open_store(settings), settings.model_cache_dir), events,
            RegistryModels(registry_channel).get, engine_factory or configured_engine,
        )
        stack.push_async_callback(deployments.close)
        await deployments.resume()
        chat = ChatServing(deployments.engine_for, settings.default_max_tokens, settings.max_n)
        inference_pb2_grpc.add_InferenceServiceServicer_to_server(
            InferenceServicer(deployments, chat), server)

    return setup


def main() -> None:
    settings = InferenceSettings()
    run("inference", settings.listen_addr or settings.inference_addr, make_setup(settings),
        settings.log_level)
