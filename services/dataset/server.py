"""Wiring of the dataset process: database, artifact store, events, servicer."""

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import grpc

from services.common import db
from services.common.artifacts import open_store
from services.common.events import EventBus
from services.common.grpc_server import run
from services.dataset.service import DatasetService
from services.dataset.servicer import DatasetServicer
from services.dataset.settings import DatasetSettings
from services.dataset.store import FileStore
from tuneforge.v1 import dataset_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def make_setup(settings: DatasetSettings):
    async def setup(stack: AsyncExitStack, server: grpc.aio.Server) -> None:
        url = settings.database_url or settings.sqlite_url("dataset")
        await asyncio.to_thread(db.migrate, url, MIGRATIONS, "alembic_version_dataset")
        engine = db.create_engine(url)
        stack.push_async_callback(engine.dispose)
        events = await EventBus(settings.nats_url, settings.events_stream,
                                settings.events_subject_prefix).connect()
        stack.push_async_callback(events.close)
        service = DatasetService(FileStore(db.sessionmaker(engine)), open_store(settings),
                                 events, settings)
        dataset_pb2_grpc.add_DatasetServiceServicer_to_server(DatasetServicer(service), server)

    return setup


def main() -> None:
    settings = DatasetSettings()
    run("dataset", settings.listen_addr or settings.dataset_addr, make_setup(settings),
        settings.log_level)
