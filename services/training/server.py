"""Wiring of the training process: database, clients, events, runner, servicer."""

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import grpc

from services.common import db
from services.common.artifacts import open_store
from services.common.events import EventBus
from services.common.grpc_client import channel
from services.common.grpc_server import run
from services.training.accelerator import detect
from services.training.clients import GrpcDatasetClient, GrpcRegistryClient
from services.training.lifecycle import Lifecycle
from services.training.runner import JobRunner
from services.training.service import TrainingService
from services.training.servicer import TrainingServicer
from services.training.settings import TrainingSettings
from services.training.store import JobStore
from tuneforge.v1 import training_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def make_setup(settings: TrainingSettings):
    async def setup(stack: AsyncExitStack, server: grpc.aio.Server) -> None:
        url = settings.database_url or settings.sqlite_url("training")
        await asyncio.to_thread(db.migrate, url, MIGRATIONS, "alembic_version_training")
        engine = db.create_engine(url)
        stack.push_async_callback(engine.dispose)
        events = await EventBus(settings.nats_url, settings.events_stream,
                                settings.events_subject_prefix).connect()
        stack.push_async_callback(events.close)
        dataset_channel = channel(settings.dataset_addr)
        stack.push_async_callback(dataset_channel.close)
        registry_channel = channel(settings.registry_addr)
        stack.push_async_callback(registry_channel.close)
        registry = GrpcRegistryClient(registry_channel)
        accel = await asyncio.to_thread(detect)
        store = JobStore(db.sessionmaker(engine))
        lifecycle = Lifecycle(store, events)
        runner = JobRunner(store, lifecycle, events, registry, open_store(settings), accel,
                           settings)
        await runner.start()
        stack.push_async_callback(runner.close)
        service = TrainingService(store, lifecycle, GrpcDatasetClient(dataset_channel), registry,
                                  runner, settings.default_hyperparameters,
                                  settings.max_ranks or accel.max_ranks)
        training_pb2_grpc.add_TrainingServiceServicer_to_server(TrainingServicer(service), server)

    return setup


def main() -> None:
    settings = TrainingSettings()
    run("training", settings.listen_addr or settings.training_addr, make_setup(settings),
        settings.log_level)
