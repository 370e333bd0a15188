"""Changing what exists: deleting model versions and moving the aliases that point at them."""

import asyncio
import logging

from services.common.errors import TuneForgeError, invalid
from services.common.events import AliasMoved, ModelDeleted
from services.common.ids import now
from services.registry import naming
from services.registry.deployments import InferenceDeployments
from services.registry.service import RegistryService, export_prefix
from services.registry.store import ModelRecord

log = logging.getLogger(__name__)


class Versions:
    def __init__(self, registry: RegistryService, deployments: InferenceDeployments):
        self.registry, self.deployments = registry, deployments
        self.store, self.events = registry.store, registry.events

    async def delete(self, ref: str) -> ModelRecord:
        """Delete a model and its files, unless something still depends on it."""
        rec = await self.registry.resolve(ref)
        if children := await self.store.children(rec.id):
            raise TuneForgeError(
                "conflict", f"The model '{rec.id}' is the base of {', '.join(children)}; "
                "delete those first.", "model")
        for d in await self.deployments.active():
            if await self._uses(d, rec.id):
                raise TuneForgeError(
                    "conflict", f"The model '{rec.id}' is deployed as {d.id} (status "
                    f"{d.status}); delete that deployment first.", "model")
        if aliases := (await self.store.aliases_of([rec.id])).get(rec.id):
            named = ", ".join(f"{rec.name}@{a}" for a in aliases)
            raise TuneForgeError(
                "conflict", f"The model '{rec.id}' is {named}; move or delete the alias first.",
                "model")
        await self.store.delete(rec.id)
        artifacts = self.registry.artifacts
        if not await self.store.prefix_shared(rec.artifact_prefix, rec.id):
            await asyncio.to_thread(artifacts.delete_prefix, rec.artifact_prefix.rstrip("/") + "/")
        await asyncio.to_thread(artifacts.delete_prefix, export_prefix(rec.id))
        await self.events.publish(ModelDeleted(model=rec.id, name=rec.name, version=rec.version))
        log.info("deleted model %s", rec.id)
        return rec

    async def _uses(self, d, model_id: str) -> bool:
        """Whether a deployment serves `model_id`, holds its weights, or follows it by alias."""
        if model_id in (d.model, d.resolved_model, d.base_model):
            return True
        try:
            return "@" in d.model and (await self.registry.resolve(d.model)).id == model_id
        except TuneForgeError:
            return False

    async def set_alias(self, name: str, alias: str, ref: str) -> dict:
        """Point `<name>@<alias>` at a ready version of `name`."""
        naming.check_alias(alias)
        if not ref:
            raise invalid("model is required: the version the alias should point at.", "model")
        rec = await self.registry.resolve(ref)
        if rec.name != name:
            raise invalid(f"The model '{rec.id}' is a version of '{rec.name}', not of '{name}'.",
                          "model")
        if rec.status != "ready":
            raise TuneForgeError(
                "conflict", f"The model '{rec.id}' is {rec.status} "
                f"({rec.error.get('message', 'no reason recorded')}); an alias may only point "
                "at a model that can be served.", "model")
        at = now()
        previous = await self.store.set_alias(name, alias, rec.id, at)
        await self.events.publish(AliasMoved(name=name, alias=alias, model=rec.id,
                                             version=rec.version, previous_model=previous))
        log.info("alias %s@%s -> %s (was %s)", name, alias, rec.id, previous or "unset")
        return dict(name=name, alias=alias, model=rec.id, version=rec.version,
                    previous_model=previous, updated_at=at)

    async def delete_alias(self, name: str, alias: str) -> dict:
        previous = await self.store.delete_alias(name, alias)
        if previous is None:
            raise TuneForgeError("not_found", f"There is no alias '{name}@{alias}'.", "alias")
        await self.events.publish(AliasMoved(name=name, alias=alias, model="", version=0,
                                             previous_model=previous))
        return dict(name=name, alias=alias, model="", version=0, previous_model=previous,
                    updated_at=now())
