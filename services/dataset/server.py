"""Wiring of the dataset process: database, artifact store, events, servicer."""

from concurrent.futures import ProcessPoolExecutor
from contextlib import AsyncExitStack
from multiprocessing import get_context
from pathlib import Path

import grpc

from services.common import db
from services.common.artifacts import open_store
from services.common.events import EventBus
from services.common.grpc_client import open_channel
from services.common.grpc_server import run
from services.common.metrics import DatasetMetrics, ServiceMetrics
from services.dataset.analysis import Analysis
from services.dataset.jobs import TrainingJobLookup
from services.dataset.models import TokenizerSource
from services.dataset.service import DatasetService
from services.dataset.servicer import DatasetServicer
from services.dataset.settings import DatasetSettings
from services.dataset.store import FileStore
from tuneforge.v1 import dataset_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def make_setup(settings: DatasetSettings, metrics: ServiceMetrics | None = None):
    """The server's setup; its service metrics go to `metrics` (served by running_server)."""
    metrics = metrics or ServiceMetrics("dataset")

    async def setup(stack: AsyncExitStack, server: grpc.aio.Server) -> None:
        sessions = await db.open_database(
            stack, settings.database_url or settings.sqlite_url("dataset"), MIGRATIONS,
            "alembic_version_dataset")
        events = await EventBus.open(stack, settings)
        events.observe(metrics.on_event)
        events.observe(DatasetMetrics(metrics.registry).on_event)
        artifacts = open_store(settings)
        jobs = TrainingJobLookup(open_channel(stack, settings.training_addr))
        service = DatasetService(FileStore(sessions), artifacts, events, settings, jobs)
        # Spawned, not forked: a forked child would inherit gRPC's threads in a broken state.
        pool = ProcessPoolExecutor(settings.tokenize_workers, mp_context=get_context("spawn"))
        stack.callback(pool.shutdown, cancel_futures=True)
        tokenizers = TokenizerSource(open_channel(stack, settings.registry_addr), artifacts,
                                     settings.tokenizer_root)
        analysis = Analysis(service, tokenizers, artifacts, pool, settings.tokenize_workers,
                            settings.spool_root)
        dataset_pb2_grpc.add_DatasetServiceServicer_to_server(
            DatasetServicer(service, analysis), server)

    return setup


def main() -> None:
    settings = DatasetSettings()
    metrics = ServiceMetrics("dataset")
    run("dataset", settings.listen_addr or settings.dataset_addr, make_setup(settings, metrics),
        settings, metrics, settings.metrics_port)
