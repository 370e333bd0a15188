"""Deployments: check the model in the registry, download it, load an engine, serve it."""

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from services.common.artifacts import ArtifactNotFound
from services.common.errors import TuneForgeError, invalid, not_found
from services.common.events import (
    DeploymentCreated,
    DeploymentDeleted,
    DeploymentEvent,
    DeploymentFailed,
    DeploymentReady,
    EventBus,
)
from services.common.ids import new_id, now
from services.inference.engines import BACKENDS, Engine
from services.inference.model_cache import ModelCache
from services.inference.store import DeploymentRecord, DeploymentStore
from tuneforge.v1 import registry_pb2

log = logging.getLogger(__name__)

ModelLookup = Callable[[str], Awaitable[registry_pb2.Model]]
EngineFactory = Callable[[str, Path], Engine]  # (backend, model folder) -> an unloaded engine


class DeploymentService:
    """Deployments and the engines loaded for them; one active deployment per model."""

    def __init__(self, store: DeploymentStore, cache: ModelCache, events: EventBus,
                 models: ModelLookup, engine_factory: EngineFactory):
        self.store, self.cache, self.events = store, cache, events
        self.models, self.engine_factory = models, engine_factory
        self._engines: dict[str, Engine] = {}  # deployment id -> its loaded engine
        self._loads: dict[str, asyncio.Task] = {}
        self._create_lock = asyncio.Lock()

    async def create(self, model: str, backend: str = "auto") -> DeploymentRecord:
        """Record a pending deployment and start loading it in the background."""
        if not model:
            raise invalid("model is required.", "model")
        backend = backend or "auto"
        if backend not in BACKENDS:
            raise invalid(f"backend must be one of {', '.join(BACKENDS)}, not '{backend}'.",
                          "backend")
        registered = await self.models(model)
        if registered.status not in ("", "ready"):
            raise TuneForgeError("conflict", f"The model '{model}' cannot be deployed: its "
                                 f"registry status is {registered.status}.", "model")
        # One check-and-insert at a time, so two calls cannot both deploy the same model.
        async with self._create_lock:
            if active := await self.store.active(model):
                raise TuneForgeError(
                    "conflict", f"The model '{model}' is already deployed as {active[0].id} "
                    f"(status {active[0].status}); delete that deployment first.", "model")
            rec = await self.store.put(DeploymentRecord(
                id=new_id("dep"), model=model, status="pending", backend=backend,
                artifact_prefix=registered.artifact_prefix, created_at=now()))
        await self._publish(DeploymentCreated, rec)
        self._start_loading(rec)
        return rec

    async def get(self, deployment_id: str) -> DeploymentRecord:
        rec = await self.store.get(deployment_id)
        if rec is None:
            raise not_found("deployment", deployment_id, "id")
        return rec

    async def list(self, limit: int, after: str = "") -> tuple[list[DeploymentRecord], bool]:
        return await self.store.list(limit, after)

    async def delete(self, deployment_id: str) -> DeploymentRecord:
        """Stop loading or unload the model, and mark the deployment deleted."""
        rec = await self.get(deployment_id)
        if rec.status == "deleted":
            return rec
        if task := self._loads.pop(rec.id, None):
            task.cancel()  # the load closes whatever engine it had started
        if engine := self._engines.pop(rec.id, None):
            await engine.close()
        rec = await self._set_status(rec, "deleted")
        await self._publish(DeploymentDeleted, rec)
        return rec

    async def engine_for(self, model: str) -> Engine:
        """The engine of the model's ready deployment."""
        active = await self.store.active(model)
        if not active:
            raise TuneForgeError(
                "model_not_found", f"The model '{model}' does not exist or is not deployed.",
                "model")
        engine = self._engines.get(active[0].id)
        if active[0].status != "ready" or engine is None:
            raise TuneForgeError(
                "unavailable", f"The model '{model}' is still loading (deployment "
                f"{active[0].id} is {active[0].status}); try again when it is ready.", "model")
        return engine

    async def resume(self) -> None:
        """Load again every deployment that was pending, loading or ready before a restart."""
        for rec in await self.store.active():
            log.info("resuming deployment %s of %s", rec.id, rec.model)
            # Before serving starts, so no caller sees "ready" without an engine behind it.
            self._start_loading(await self._set_status(rec, "loading"))

    async def close(self) -> None:
        """Stop loads and unload every engine; deployments stay as recorded, to resume."""
        tasks = list(self._loads.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            await engine.close()

    # -- loading ----------------------------------------------------------------------------

    def _start_loading(self, rec: DeploymentRecord) -> None:
        task = asyncio.create_task(self._load(rec), name=f"load-{rec.id}")
        self._loads[rec.id] = task
        task.add_done_callback(lambda _: self._loads.pop(rec.id, None))

    async def _load(self, rec: DeploymentRecord) -> None:
        rec = await self._set_status(rec, "loading")
        engine = None
        try:
            model_dir = await asyncio.to_thread(self.cache.fetch, rec.model, rec.artifact_prefix)
            engine = self.engine_factory(rec.backend, model_dir)
            await engine.load()
        except asyncio.CancelledError:
            if engine is not None:
                await engine.close()
            raise
        except Exception as e:  # noqa: BLE001 - recorded on the deployment
            log.exception("deployment %s of %s failed to load", rec.id, rec.model)
            if engine is not None:
                await engine.close()
            rec = await self._set_status(rec, "failed", _load_error(rec, e))
            await self._publish(DeploymentFailed, rec, error=rec.error)
            return
        self._engines[rec.id] = engine
        rec = await self._set_status(rec, "ready")
        await self._publish(DeploymentReady, rec)
        log.info("deployment %s of %s is ready", rec.id, rec.model)

    async def _set_status(self, rec: DeploymentRecord, status: str,
                          error: dict | None = None) -> DeploymentRecord:
        return await self.store.put(dataclasses.replace(rec, status=status, error=error))

    async def _publish(self, event_type: type[DeploymentEvent], rec: DeploymentRecord,
                       **fields) -> None:
        await self.events.publish(event_type(deployment_id=rec.id, model=rec.model,
                                             status=rec.status, **fields))


def _load_error(rec: DeploymentRecord, e: Exception) -> dict:
    if isinstance(e, ArtifactNotFound):
        return {"code": "not_found", "param": "model", "message":
                f"The model '{rec.model}' has no files under '{rec.artifact_prefix}'."}
    if isinstance(e, TuneForgeError):
        return {"code": e.code.value, "message": e.message, "param": e.param or ""}
    return {"code": "internal", "param": "model", "message":
            f"Loading the model '{rec.model}' failed: {type(e).__name__}: {e}"}
