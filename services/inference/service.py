"""Deployments: check the model in the registry, download it, load an engine, serve it."""

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable

from services.common.errors import TuneForgeError, invalid, not_found
from services.common.events import (
    DeploymentCreated,
    DeploymentDeleted,
    DeploymentEvent,
    DeploymentFailed,
    DeploymentMoved,
    DeploymentReady,
    EventBus,
)
from services.common.ids import new_id, now
from services.inference.engines import BACKENDS, Engine, Target
from services.inference.loading import EngineBuilder, holder, load_error
from services.inference.model_cache import ModelCache
from services.inference.options import DeploymentOptions
from services.inference.pool import EnginePool
from services.inference.store import DeploymentRecord, DeploymentStore
from tuneforge.v1 import registry_pb2

log = logging.getLogger(__name__)

ModelLookup = Callable[[str], Awaitable[registry_pb2.Model]]


@dataclasses.dataclass
class Served:
    """This process's view of one active deployment: its record and, once ready, its target."""

    rec: DeploymentRecord
    target: Target | None = None


class DeploymentService:
    """Deployments and the engines loaded for them; one active deployment per model name."""

    def __init__(self, store: DeploymentStore, cache: ModelCache, events: EventBus,
                 models: ModelLookup, builder: EngineBuilder):
        self.store, self.cache, self.events = store, cache, events
        self.models, self.builder = models, builder
        self.pool = EnginePool()
        self.served: dict[str, Served] = {}  # model name as deployed -> its state here
        self._loads: dict[str, asyncio.Task] = {}
        self._create_lock = asyncio.Lock()

    async def create(self, model: str, options: DeploymentOptions) -> DeploymentRecord:
        """Record a pending deployment and start loading it in the background."""
        if not model:
            raise invalid("model is required.", "model")
        options = options.validated(BACKENDS, self.builder.gpu_count)
        self.builder.check_backend(options.backend)
        registered = await self.models(model)
        if registered.status not in ("", "ready"):
            raise TuneForgeError("conflict", f"The model '{model}' cannot be deployed: its "
                                 f"registry status is {registered.status}.", "model")
        if options.max_context and registered.context_length \
                and options.max_context > registered.context_length:
            raise invalid(f"max_context must be at most the model's context length "
                          f"{registered.context_length}, not {options.max_context}.",
                          "max_context")
        adapter = await self.builder.is_adapter(registered)
        # One check-and-insert at a time, so two calls cannot both deploy the same model.
        async with self._create_lock:
            if active := await self.store.active(model):
                raise TuneForgeError(
                    "conflict", f"The model '{model}' is already deployed as {active[0].id} "
                    f"(status {active[0].status}); delete that deployment first.", "model")
            rec = await self.store.put(DeploymentRecord(
                id=new_id("dep"), model=model, status="pending", backend=options.backend,
                artifact_prefix=registered.artifact_prefix, created_at=now(),
                resolved_model=registered.id,
                base_model=registered.parent if adapter else registered.id, adapter=adapter,
                **options.record_fields()))
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
        await self._unload(rec)
        rec = await self._set_status(rec, "deleted")
        await self._publish(DeploymentDeleted, rec)
        return rec

    async def target(self, model: str) -> Target:
        """What serves `model`: its ready deployment, or the engine already holding it."""
        served = self.served.get(model)
        if served is not None:
            if served.target is None:
                raise TuneForgeError(
                    "unavailable", f"The model '{model}' is still loading (deployment "
                    f"{served.rec.id} is {served.rec.status}); try again when it is ready.",
                    "model")
            return served.target
        return await self.builder.resolve(model, self.pool)

    async def resume(self) -> None:
        """Load again every deployment that was pending, loading or ready before a restart."""
        for rec in await self.store.active():
            log.info("resuming deployment %s of %s", rec.id, rec.model)
            if not rec.resolved_model:  # recorded before deployments knew their base
                rec = dataclasses.replace(rec, resolved_model=rec.model, base_model=rec.model)
            # Before serving starts, so no caller sees "ready" without an engine behind it.
            self._start_loading(await self._set_status(rec, "loading"))

    async def close(self) -> None:
        """Stop loads and unload every engine; deployments stay as recorded, to resume."""
        tasks = list(self._loads.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.served.clear()
        await self.pool.close()

    # -- loading ----------------------------------------------------------------------------

    def _start_loading(self, rec: DeploymentRecord) -> None:
        self.served[rec.model] = Served(rec)
        self._track(rec.id, asyncio.create_task(self._load(rec), name=f"load-{rec.id}"))

    def _track(self, deployment_id: str, task: asyncio.Task) -> None:
        """Remember a deployment's load (or move), for delete and close to stop it."""
        self._loads[deployment_id] = task

        def done(t: asyncio.Task) -> None:
            if self._loads.get(deployment_id) is t:
                del self._loads[deployment_id]

        task.add_done_callback(done)

    async def _load(self, rec: DeploymentRecord) -> None:
        rec = await self._set_status(rec, "loading")
        try:
            if "@" in rec.model:  # an alias (or version) reference: it may have moved
                rec = await self._save(await self.builder.refresh(rec))
            target = await self.builder.target(rec, self.pool)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - recorded on the deployment
            log.exception("deployment %s of %s failed to load", rec.id, rec.model)
            self.served.pop(rec.model, None)
            rec = await self._set_status(rec, "failed", load_error(rec, e))
            await self._publish(DeploymentFailed, rec, error=rec.error)
            return
        rec = await self._set_status(rec, "ready")
        self.served[rec.model] = Served(rec, target)
        await self._publish(DeploymentReady, rec)
        log.info("deployment %s of %s is ready", rec.id, rec.model)

    async def _unload(self, rec: DeploymentRecord) -> None:
        if task := self._loads.pop(rec.id, None):
            task.cancel()  # the pool stops the engine's load when nobody else waits on it
            await asyncio.gather(task, return_exceptions=True)
        served = self.served.get(rec.model)
        if served is not None and served.rec.id == rec.id:
            del self.served[rec.model]
            rec = served.rec  # what it holds now, should an alias have moved it
        await self._release(rec)

    async def _release(self, rec: DeploymentRecord) -> None:
        await self.pool.release(rec.base_model or rec.resolved_model, holder(rec))
        self.builder.forget(rec.base_model)

    # -- following aliases ----------------------------------------------------------------

    def follow_alias(self, name: str, alias: str, model: str) -> None:
        """The registry moved `name@alias` to `model`: serve that version from now on."""
        served = self.served.get(f"{name}@{alias}")
        if served is None or not model or served.rec.resolved_model == model:
            return  # a deleted alias leaves the deployment serving what it has
        rec, previous = served.rec, self._loads.get(served.rec.id)
        if served.target is None:  # still loading: load what the alias names now instead
            work = self._reload(rec, previous)
        else:
            work = self._move(rec)
        self._track(rec.id, asyncio.create_task(work, name=f"follow-{rec.id}"))

    async def _reload(self, rec: DeploymentRecord, previous: asyncio.Task | None) -> None:
        if previous is not None:
            previous.cancel()
            await asyncio.gather(previous, return_exceptions=True)
        if (served := self.served.get(rec.model)) and served.rec.id == rec.id:
            rec = served.rec  # as far as the cancelled load had resolved it
        await self._release(rec)
        self.served[rec.model] = Served(rec)
        await self._load(rec)

    async def _move(self, old: DeploymentRecord) -> None:
        """Load what the alias names now beside the old version, then switch and unload."""
        try:
            new = await self.builder.refresh(old)
            target = await self.builder.target(new, self.pool)
        except Exception as e:  # noqa: BLE001 - the old version goes on serving
            log.exception("deployment %s could not follow %s", old.id, old.model)
            await self._save(dataclasses.replace(old, error=load_error(old, e)))
            return
        new = dataclasses.replace(new, error=None)
        self.served[new.model] = Served(new, target)
        await self.store.put(new)
        await self._release(old)
        await self._publish(DeploymentMoved, new, previous_model=old.resolved_model,
                            resolved_model=new.resolved_model)
        log.info("deployment %s of %s moved from %s to %s", new.id, new.model,
                 old.resolved_model, new.resolved_model)

    async def _set_status(self, rec: DeploymentRecord, status: str,
                          error: dict | None = None) -> DeploymentRecord:
        return await self._save(dataclasses.replace(rec, status=status, error=error))

    async def _save(self, rec: DeploymentRecord) -> DeploymentRecord:
        rec = await self.store.put(rec)
        if (served := self.served.get(rec.model)) and served.rec.id == rec.id:
            served.rec = rec
        return rec

    async def _publish(self, event_type: type[DeploymentEvent], rec: DeploymentRecord,
                       **fields) -> None:
        await self.events.publish(event_type(deployment_id=rec.id, model=rec.model,
                                             status=rec.status, **fields))

    def engines(self) -> "list[Engine]":
        """Every ready engine, for the replica's load report."""
        return list({id(s.target.engine): s.target.engine for s in self.served.values()
                     if s.target is not None}.values())
