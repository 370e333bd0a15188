"""Wiring of the inference process: database, artifact store, events, registry, engines."""

import secrets
from contextlib import AsyncExitStack
from pathlib import Path

import grpc
import nats
import torch

from services.common import db
from services.common.artifacts import open_store
from services.common.events import AliasMoved, EventBus, subject_filter
from services.common.grpc_client import open_channel
from services.common.grpc_server import run
from services.common.metrics import InferenceMetrics, ServiceMetrics
from services.inference.engines import EngineSpec, create_engine
from services.inference.engines.vllm_engine import vllm_available
from services.inference.heartbeat import Heartbeat
from services.inference.loading import EngineBuilder, EngineDefaults, EngineFactory
from services.inference.metrics import MeteredServing
from services.inference.model_cache import ModelCache
from services.inference.registry_client import RegistryModels
from services.inference.service import DeploymentService
from services.inference.servicer import InferenceServicer
from services.inference.serving import CompletionServing
from services.inference.settings import InferenceSettings
from services.inference.store import DeploymentStore
from tuneforge.v1 import inference_pb2_grpc

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


def make_setup(settings: InferenceSettings, engine_factory: EngineFactory | None = None,
               metrics: ServiceMetrics | None = None):
    """The server's setup; `engine_factory` replaces the configured engines (tests pass fakes),
    its service metrics go to `metrics` (served by running_server)."""
    metrics = metrics or ServiceMetrics("inference")

    def configured_engine(spec: EngineSpec):
        return create_engine(spec, vllm_command=settings.vllm_command)

    async def setup(stack: AsyncExitStack, server: grpc.aio.Server) -> None:
        if settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        sessions = await db.open_database(
            stack, settings.database_url or settings.sqlite_url("inference"), MIGRATIONS,
            "alembic_version_inference")
        events = await EventBus.open(stack, settings)
        events.observe(metrics.on_event)
        # Core NATS, beside the event bus: heartbeats out, alias moves in.
        nc = await nats.connect(settings.nats_url, name="tuneforge-inference",
                                max_reconnect_attempts=-1)
        stack.push_async_callback(nc.drain)
        registry_channel = open_channel(stack, settings.registry_addr)
        registry = RegistryModels(registry_channel)
        models = registry.get
        cache = ModelCache(open_store(settings), settings.model_cache_dir)
        builder = EngineBuilder(models, cache, engine_factory or configured_engine, EngineDefaults(
            settings.max_concurrent_requests, settings.max_loras, settings.max_lora_rank,
            settings.device, torch.cuda.device_count(),
            # Injected engines (tests) stand in for every backend.
            vllm_ready=engine_factory is not None or settings.vllm_command is not None
            or vllm_available()), registry.children)
        deployments = DeploymentService(DeploymentStore(sessions), cache,
                                        events, models, builder)
        stack.push_async_callback(deployments.close)
        await deployments.resume()

        async def alias_moved(msg) -> None:
            moved = AliasMoved.model_validate_json(msg.data)
            deployments.follow_alias(moved.name, moved.alias, moved.model)

        await nc.subscribe(subject_filter(settings.events_subject_prefix, AliasMoved),
                           cb=alias_moved)
        heartbeat = Heartbeat(nc, settings.events_subject_prefix,
                              settings.replica_id or f"inference-{secrets.token_hex(4)}",
                              settings.address, deployments, settings.heartbeat_interval_s)
        heartbeat.start()
        # Registered last, so it runs first on the way out: the gateway stops routing here
        # before the engines go.
        stack.push_async_callback(heartbeat.stop)
        serving = MeteredServing(
            CompletionServing(deployments.target, settings.default_max_tokens, settings.max_n),
            InferenceMetrics(metrics.registry))
        inference_pb2_grpc.add_InferenceServiceServicer_to_server(
            InferenceServicer(deployments, serving), server)

    return setup


def main() -> None:
    settings = InferenceSettings()
    metrics = ServiceMetrics("inference")
    run("inference", settings.listen_addr or settings.inference_addr,
        make_setup(settings, metrics=metrics), settings, metrics, settings.metrics_port)
