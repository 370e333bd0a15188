"""Wiring of the dataset process: database, artifact store, events, servicer."""

import asyncio
from concurrent.futures import ProcessPoolExecutor
from contextlib import AsyncExitStack
from multiprocessing import get_context
from pathlib import Path

import grpc

from services.common import db
from services.common.artifacts import open_store
from services.common.events import EventBus
from services.common.grpc_client import channel
from services.common.grpc_server import run
from services.dataset.analysis import Analysis
from services.dataset.jobs import TrainingJobLookup
from services.dataset.models import TokenizerSource
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
        artifacts = open_store(settings)
        jobs = TrainingJobLookup(await _channel(stack, settings.training_addr))
        service = DatasetService(FileStore(db.sessionmaker(engine)), artifacts, events, settings,
                                 jobs)
        # Spawned, not forked: a forked child would inherit gRPC's threads in a broken state.
        pool = ProcessPoolExecutor(settings.tokenize_workers, mp_context=get_context("spawn"))
        stack.callback(pool.shutdown, cancel_futures=True)
        tokenizers = TokenizerSource(await _channel(stack, settings.registry_addr), artifacts,
                                     settings.tokenizer_root)
        analysis = Analysis(service, tokenizers, artifacts, pool, settings.tokenize_workers,
                            settings.spool_root)
        dataset_pb2_grpc.add_DatasetServiceServicer_to_server(
            DatasetServicer(service, analysis), server)

    return setup


async def _channel(stack: AsyncExitStack, address: str) -> grpc.aio.Channel:
    ch = channel(address)
    stack.push_async_callback(ch.close)
    return ch


def main() -> None:
    settings = DatasetSettings()
    run("dataset", settings.listen_addr or settings.dataset_addr, make_setup(settings),
        settings.log_level)
