"""From a registered model to a target that serves it: files, engine spec, shared engine, adapter.

A LoRA adapter (a registered model with a parent and an adapter_config.json in its folder) is
served on its parent's engine. Models that are not deployed themselves are still served when
the engine holding their weights is loaded: the base model of a deployed adapter, or any adapter
of a loaded base, fetched on its first request and then kept in the engine's LRU set.
"""

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from services.common.artifacts import ArtifactNotFound
from services.common.errors import TuneForgeError
from services.inference.engines import Adapter, Engine, EngineSpec, Target, resolve_backend
from services.inference.engines.adapters import lora_rank
from services.inference.engines.replicas import ReplicaSet
from services.inference.model_cache import ModelCache
from services.inference.pool import EnginePool
from services.inference.store import DeploymentRecord
from tuneforge.v1 import registry_pb2

log = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"
RESOLVE_TTL_S = 30.0  # how long a name resolved through the registry is trusted

ModelLookup = Callable[[str], Awaitable[registry_pb2.Model]]
ChildrenLookup = Callable[[str], Awaitable[list[registry_pb2.Model]]]
EngineFactory = Callable[[EngineSpec], Engine]  # an unloaded engine for one replica


@dataclass(frozen=True)
class EngineDefaults:
    max_concurrent_requests: int
    max_loras: int
    max_lora_rank: int
    device: str
    gpu_count: int
    vllm_ready: bool  # vLLM (or a stand-in command) can be started here


class EngineBuilder:
    def __init__(self, models: ModelLookup, cache: ModelCache, factory: EngineFactory,
                 defaults: EngineDefaults, children: ChildrenLookup | None = None):
        self.models, self.cache, self.factory, self.defaults = models, cache, factory, defaults
        self.children = children
        self._resolved: dict[str, tuple[float, str, Target]] = {}  # name -> (expiry, base, target)

    @property
    def gpu_count(self) -> int:
        return self.defaults.gpu_count

    def check_backend(self, backend: str) -> None:
        """invalid_argument when this service cannot run the backend asked for."""
        if backend == "vllm" and not self.defaults.vllm_ready:
            raise TuneForgeError(
                "invalid_argument", "backend 'vllm' needs vLLM and a GPU, and this inference "
                "service has not both (install the `gpu` extra on a GPU host); use backend "
                "'transformers' or 'auto'.", "backend")

    async def is_adapter(self, model: registry_pb2.Model) -> bool:
        """Whether the model is a LoRA adapter of its parent rather than full weights."""
        if model.format == "lora":
            return True
        if not model.parent or model.format == "full":
            return False
        key = f"{model.artifact_prefix.rstrip('/')}/{ADAPTER_CONFIG}"
        return await asyncio.to_thread(self.cache.artifacts.exists, key)

    async def refresh(self, rec: DeploymentRecord) -> DeploymentRecord:
        """The deployment pointed at what its model name resolves to in the registry now."""
        registered = await self.models(rec.model)
        adapter = await self.is_adapter(registered)
        return dataclasses.replace(
            rec, resolved_model=registered.id, artifact_prefix=registered.artifact_prefix,
            base_model=registered.parent if adapter else registered.id, adapter=adapter)

    async def target(self, rec: DeploymentRecord, pool: EnginePool) -> Target:
        """Load (or share) the engine a deployment needs, and fetch its adapter."""
        base = await self.models(rec.base_model or rec.resolved_model or rec.model)
        engine = await pool.acquire(base.id, holder(rec), lambda: self._load(base, rec))
        if not rec.adapter:
            return Target(engine)
        return Target(engine, await self._adapter(rec.resolved_model or rec.model,
                                                  rec.artifact_prefix))

    async def resolve(self, model: str, pool: EnginePool) -> Target:
        """A target for a model that is not deployed but whose weights are loaded here."""
        hit = self._resolved.get(model)
        if hit and hit[0] > time.monotonic() and pool.ready(hit[1]) is hit[2].engine:
            return hit[2]
        not_served = TuneForgeError(
            "model_not_found", f"The model '{model}' does not exist or is not deployed.", "model")
        try:
            registered = await self.models(model)
        except TuneForgeError as e:
            raise not_served if e.code == "model_not_found" else e from None
        adapter = await self.is_adapter(registered)
        base = registered.parent if adapter else registered.id
        engine = pool.ready(base)
        if engine is None:
            raise not_served
        target = Target(engine, await self._adapter(registered.id, registered.artifact_prefix)
                        if adapter else None)
        self._resolved[model] = (time.monotonic() + RESOLVE_TTL_S, base, target)
        return target

    def forget(self, base: str) -> None:
        """Drop names resolved onto `base`'s engine (it was released)."""
        self._resolved = {k: v for k, v in self._resolved.items() if v[1] != base}

    async def _adapter(self, name: str, prefix: str) -> Adapter:
        path = await asyncio.to_thread(self.cache.fetch, name, prefix)
        config = json.loads((path / ADAPTER_CONFIG).read_text())
        return Adapter(name, path, lora_rank(config))

    async def _load(self, base: registry_pb2.Model, rec: DeploymentRecord) -> Engine:
        model_dir = await asyncio.to_thread(self.cache.fetch, base.id, base.artifact_prefix)
        rank = await self._adapter_rank(base.id) if resolve_backend(rec.backend) == "vllm" else 0
        replicas = [self.factory(self._spec(base, rec, model_dir, i, rank))
                    for i in range(max(rec.replicas, 1))]
        engine = replicas[0] if len(replicas) == 1 else ReplicaSet(replicas)
        try:
            await engine.load()
        except BaseException:
            await engine.close()
            raise
        return engine

    async def _adapter_rank(self, base: str) -> int:
        """The largest LoRA rank among the base's registered adapters: vLLM fixes it at start."""
        if self.children is None:
            return 0
        ranks = [0]
        for child in await self.children(base):
            key = f"{child.artifact_prefix.rstrip('/')}/{ADAPTER_CONFIG}"
            try:
                config = await asyncio.to_thread(self.cache.artifacts.get_bytes, key)
            except ArtifactNotFound:
                continue  # full weights, not an adapter
            ranks.append(lora_rank(json.loads(config)))
        return max(ranks)

    def _spec(self, base: registry_pb2.Model, rec: DeploymentRecord, model_dir: Path,
              replica: int, adapter_rank: int) -> EngineSpec:
        d = self.defaults
        backend = resolve_backend(rec.backend)
        device = d.device
        if rec.gpus_per_replica:
            device = f"cuda:{replica * rec.gpus_per_replica}"
        serving = base.serving
        return EngineSpec(
            backend=backend, model_dir=model_dir,
            max_concurrent_requests=rec.max_concurrent_requests or d.max_concurrent_requests,
            max_context=rec.max_context, max_loras=d.max_loras,
            max_lora_rank=max(d.max_lora_rank, adapter_rank),
            chat_template=serving.chat_template, stop_token_ids=frozenset(serving.stop_token_ids),
            device=device, gpus=tuple(range(replica * rec.gpus_per_replica,
                                            (replica + 1) * rec.gpus_per_replica)))


def holder(rec: DeploymentRecord) -> str:
    """Who holds an engine in the pool: a deployment, as it resolves now (an alias that moves
    holds its old engine until the new one is loaded)."""
    return f"{rec.id}:{rec.resolved_model}"


def load_error(rec: DeploymentRecord, e: Exception) -> dict:
    """The reason recorded on a deployment that failed to load."""
    if isinstance(e, ArtifactNotFound):
        return {"code": "not_found", "param": "model", "message":
                f"The model '{rec.model}' has no files under '{rec.artifact_prefix}'."}
    if isinstance(e, TuneForgeError):
        return {"code": e.code.value, "message": e.message, "param": e.param or ""}
    return {"code": "internal", "param": "model", "message":
            f"Loading the model '{rec.model}' failed: {type(e).__name__}: {e}"}
