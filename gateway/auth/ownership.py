"""Who owns what: the gateway records the project that created each object and answers 404
to every other project.

Files, jobs and deployments belong to the project that created them (objects made before
tenancy, or behind the gateway's back, belong to the default project). A model belongs to the
project that registered or merged it, else to the owner of the job that trained it; a model
with neither is a base model the platform shares with everyone.
"""

import time

import grpc

from gateway.auth.keys import Principal
from gateway.store import DEFAULT_PROJECT, GatewayStore
from services.common.errors import TuneForgeError, not_found
from tuneforge.v1 import registry_pb2, registry_pb2_grpc

SHARED = ""  # owner of base models
OWNER_TTL_S = 30.0


def model_not_found(ref: str) -> TuneForgeError:
    # The registry's own wording, so a hidden model reads exactly like a missing one.
    return TuneForgeError("model_not_found", f"The model '{ref}' does not exist.", "model")


class Ownership:
    def __init__(self, store: GatewayStore, registry: registry_pb2_grpc.RegistryServiceStub,
                 timeout: float):
        self.store = store
        self.registry = registry
        self.timeout = timeout
        self._owner_cache: dict[str, tuple[float, str]] = {}

    async def record(self, kind: str, object_id: str, who: Principal) -> None:
        if object_id:
            await self.store.set_owner(kind, object_id, who.project_id)

    async def owners(self, kind: str, ids: list[str]) -> dict[str, str]:
        found = await self.store.owners(kind, ids)
        return {i: found.get(i, DEFAULT_PROJECT) for i in ids}

    async def check(self, kind: str, object_id: str, who: Principal, what: str,
                    param: str | None = None) -> None:
        """404 unless `who`'s project owns `object_id`, in the service's own words."""
        if object_id and (await self.owners(kind, [object_id]))[object_id] != who.project_id:
            raise not_found(what, object_id, param)

    async def keep(self, kind: str, ids: list[str], who: Principal) -> set[str]:
        """The ids among `ids` that `who`'s project owns."""
        owners = await self.owners(kind, ids)
        return {i for i in ids if owners[i] == who.project_id}

    async def model_owners(self, models: list[registry_pb2.Model]) -> dict[str, str]:
        """Owner of each model: its project, or SHARED for a base model."""
        direct = await self.store.owners("model", [m.id for m in models])
        jobs = [m.lineage.job_id for m in models if m.lineage.job_id and m.id not in direct]
        job_owner = await self.owners("job", jobs) if jobs else {}
        return {m.id: direct.get(m.id) or job_owner.get(m.lineage.job_id, SHARED)
                for m in models}

    async def visible_models(self, models: list[registry_pb2.Model], who: Principal) -> set[str]:
        owners = await self.model_owners(models)
        return {i for i, o in owners.items() if o in (SHARED, who.project_id)}

    async def model_owner(self, ref: str) -> str | None:
        # Chat requests name a model each time; its owner never changes, so it is remembered
        # for a while instead of costing a registry call and a query per request.
        hit = self._owner_cache.get(ref)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        try:
            model = await self.registry.GetModel(registry_pb2.GetModelRequest(id=ref),
                                                 timeout=self.timeout)
        except grpc.aio.AioRpcError:
            return None
        owner = (await self.model_owners([model]))[model.id]
        if not ref.count("@"):  # an alias may move to another model; resolve it every time
            self._owner_cache[ref] = (time.monotonic() + OWNER_TTL_S, owner)
        return owner

    async def check_model(self, ref: str, who: Principal, change: bool = False) -> None:
        """404 for another project's model; 403 when changing a shared base as a non-admin."""
        if not ref:
            return
        owner = await self.model_owner(ref)
        if owner is None:
            return  # the call that follows reports the missing model
        if owner not in (SHARED, who.project_id):
            raise model_not_found(ref)
        if change and owner == SHARED and not who.admin:
            raise TuneForgeError("permission_denied", f"The model '{ref}' is a base model "
                                 "shared by the platform; only an admin can change it.", "model")
