"""Wiring of the training process: database, clients, events, runner, servicer."""

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import grpc

from services.common import db
from services.common.artifacts import open_store
from services.common.events import EventBus
from services.common.grpc_client import open_channel
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
        sessions = await db.open_database(
            stack, settings.database_url or settings.sqlite_url("training"), MIGRATIONS,
            "alembic_version_training")
        events = await EventBus.open(stack, settings)
        dataset_channel = open_channel(stack, settings.dataset_addr)
        registry_channel = open_channel(stack, settings.registry_addr)
        registry = GrpcRegistryClient(registry_channel)
        accel = await asyncio.to_thread(detect)
        store = JobStore(sessions)
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
