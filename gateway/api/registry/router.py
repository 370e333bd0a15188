"""/v1/registry: full model records with lineage, registration, LoRA merge, aliases."""

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.api.common import ERRORS, ListResponse
from gateway.api.registry.protocol import (
    AliasObject,
    MergeAdapter,
    ModelRecord,
    RegisterModel,
    SetAlias,
)
from gateway.clients import ClientsDep
from tuneforge.v1 import registry_pb2 as pb

router = APIRouter(prefix="/v1/registry", tags=["registry"], responses=ERRORS)

# Registration copies and checks a model, a merge rewrites its weights: both can take minutes
# on a large model, so they run without the gateway's usual deadline.


@router.post("/models", response_model=ModelRecord, summary="Register a model from a source")
async def register_model(body: RegisterModel, clients: ClientsDep) -> ModelRecord:
    """Copies the files, then checks them; a model that fails the check has status failed."""
    m = await clients.registry.RegisterModel(pb.RegisterModelRequest(
        id=body.id, source=body.source, kind=body.kind, parent=body.parent or "",
        name=body.name or "", owned_by="user"))
    return ModelRecord.from_pb(m)


@router.get("/models", response_model=ListResponse[ModelRecord], summary="List model records")
async def list_records(
    clients: ClientsDep,
    name: Annotated[str | None, Query(description="Only the versions of this name.")] = None,
    after: Annotated[str | None,
                     Query(description="Id of the last model of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ListResponse[ModelRecord]:
    r = await clients.registry.ListModels(
        pb.ListModelsRequest(limit=limit, after=after or "", name=name or ""),
        timeout=clients.timeout)
    return ListResponse(data=[ModelRecord.from_pb(m) for m in r.data], has_more=r.has_more)


# The routes with a suffix come before the catch-all `{model_id:path}`, which would match them.
@router.post("/models/{model_id:path}/merge", response_model=ModelRecord,
             summary="Merge a LoRA adapter into its base")
async def merge_adapter(model_id: str, body: MergeAdapter, clients: ClientsDep) -> ModelRecord:
    """A new full-weight version under the adapter's name; refused for quantised bases."""
    m = await clients.registry.MergeAdapter(pb.MergeAdapterRequest(
        id=model_id, new_id=body.new_id or "", owned_by="user"))
    return ModelRecord.from_pb(m)


@router.put("/models/{name:path}/aliases/{alias}", response_model=AliasObject,
            summary="Create or move an alias")
async def set_alias(name: str, alias: str, body: SetAlias, clients: ClientsDep) -> AliasObject:
    a = await clients.registry.SetAlias(pb.SetAliasRequest(name=name, alias=alias,
                                                           model=body.model),
                                        timeout=clients.timeout)
    return AliasObject.from_pb(a)


@router.delete("/models/{name:path}/aliases/{alias}", response_model=AliasObject,
               summary="Delete an alias")
async def delete_alias(name: str, alias: str, clients: ClientsDep) -> AliasObject:
    a = await clients.registry.DeleteAlias(pb.DeleteAliasRequest(name=name, alias=alias),
                                           timeout=clients.timeout)
    return AliasObject.from_pb(a)


@router.get("/models/{model_id:path}", response_model=ModelRecord,
            summary="Get a model's full record")
async def get_record(model_id: str, clients: ClientsDep) -> ModelRecord:
    """Lineage, serving spec (chat template, stop ids), round-trip check and failure reason."""
    m = await clients.registry.GetModel(pb.GetModelRequest(id=model_id), timeout=clients.timeout)
    return ModelRecord.from_pb(m)
