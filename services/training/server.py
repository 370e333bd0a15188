"""Wiring of the training process: database, clients, events, work queue, agent, servicer."""

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import grpc

from services.common import db
from services.common.artifacts import open_store
from services.common.events import EventBus, JobSucceeded
from services.common.grpc_client import open_channel
from services.common.grpc_server import run
from services.common.metrics import ServiceMetrics, TrainingMetrics
from services.training.accelerator import Accelerator, detect
from services.training.clients import GrpcDatasetClient, GrpcInferenceClient, GrpcRegistryClient
from services.training.lifecycle import Lifecycle
from services.training.queue import WorkQueue
from services.training.runner import JobRunner
from services.training.service import Capacity, TrainingService
from services.training.servicer import TrainingServicer
from services.training.settings import TrainingSettings
from services.training.store import JobStore
from tuneforge.v1 import training_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"
JOB_COUNTS_EVERY_S = 5.0

log = logging.getLogger(__name__)


class _NoAgent:
    """Stands in for the runner when this process trains nothing."""

    async def stop(self, job_id: str) -> None:
        return None


@dataclass
class Parts:
    store: JobStore
    lifecycle: Lifecycle
    events: EventBus
    queue: WorkQueue
    accel: Accelerator
    runner: JobRunner | None


async def open_agent(stack: AsyncExitStack, settings: TrainingSettings) -> Parts:
    """Everything a training agent needs, and the agent itself unless run_agent is off."""
    sessions = await db.open_database(
        stack, settings.database_url or settings.sqlite_url("training"), MIGRATIONS,
        "alembic_version_training")
    events = await EventBus.open(stack, settings)
    queue = await WorkQueue.open(stack, settings.nats_url, settings.events_subject_prefix,
                                 settings.work_ack_wait_s)
    accel = await asyncio.to_thread(detect)
    store = JobStore(sessions)
    lifecycle = Lifecycle(store, events)
    runner = None
    if settings.run_agent:
        registry = GrpcRegistryClient(open_channel(stack, settings.registry_addr))
        inference = GrpcInferenceClient(open_channel(stack, settings.inference_addr))
        runner = JobRunner(store, lifecycle, events, registry, inference, open_store(settings),
                           accel, settings, queue)
        await runner.start()
        stack.push_async_callback(runner.close)
    return Parts(store, lifecycle, events, queue, accel, runner)


async def _count_jobs(store: JobStore, metrics: TrainingMetrics) -> None:
    """Keep the jobs-by-status gauge (queue depth included) current."""
    while True:
        try:
            metrics.set_job_counts(await store.count_by_status())
        except Exception:  # noqa: BLE001 - the gauge goes stale; the service goes on
            log.warning("could not count the jobs for the metrics", exc_info=True)
        await asyncio.sleep(JOB_COUNTS_EVERY_S)


def count_tokens(metrics: TrainingMetrics):
    def on_event(event) -> None:
        if isinstance(event, JobSucceeded):
            metrics.tokens.inc(event.trained_tokens)
    return on_event


async def _stop(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def make_setup(settings: TrainingSettings, metrics: ServiceMetrics | None = None):
    """The server's setup; its service metrics go to `metrics` (served by running_server)."""
    metrics = metrics or ServiceMetrics("training")

    async def setup(stack: AsyncExitStack, server: grpc.aio.Server) -> None:
        parts = await open_agent(stack, settings)
        training_metrics = TrainingMetrics(metrics.registry)
        parts.events.observe(metrics.on_event)
        parts.events.observe(count_tokens(training_metrics))
        counts = asyncio.create_task(_count_jobs(parts.store, training_metrics))
        stack.push_async_callback(_stop, counts)
        accel = parts.accel
        registry = GrpcRegistryClient(open_channel(stack, settings.registry_addr))
        dataset = GrpcDatasetClient(open_channel(stack, settings.dataset_addr))
        capacity = Capacity(
            max_ranks=settings.max_ranks or accel.max_ranks,
            device_memory=lambda ranks: int(settings.device_memory_gib * 2**30)
            if settings.device_memory_gib else accel.device_memory(ranks),
            mixed_precision=accel.bf16, gpu=bool(accel.cuda_devices), cluster=settings.cluster)
        service = TrainingService(parts.store, parts.lifecycle, dataset, registry,
                                  parts.runner or _NoAgent(), parts.queue, open_store(settings),
                                  settings.default_hyperparameters, capacity,
                                  work_root=settings.work_root,
                                  agent_stale_s=settings.work_ack_wait_s * 2)
        training_pb2_grpc.add_TrainingServiceServicer_to_server(TrainingServicer(service), server)

    return setup


def main() -> None:
    settings = TrainingSettings()
    metrics = ServiceMetrics("training")
    run("training", settings.listen_addr or settings.training_addr, make_setup(settings, metrics),
        settings, metrics, settings.metrics_port)
