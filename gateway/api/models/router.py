"""/v1/models: the registry's models in OpenAI's shape."""

from fastapi import APIRouter

from gateway.api.common import ERRORS, ListResponse
from gateway.api.models.protocol import ModelObject
from gateway.clients import ClientsDep
from tuneforge.v1 import registry_pb2 as pb

router = APIRouter(prefix="/v1/models", tags=["models"], responses=ERRORS)


@router.get("", response_model=ListResponse[ModelObject], summary="List models")
async def list_models(clients: ClientsDep) -> ListResponse[ModelObject]:
    models, after = [], ""
    while True:  # OpenAI's /v1/models is not paginated: gather every page.
        page = await clients.registry.ListModels(pb.ListModelsRequest(limit=100, after=after),
                                                 timeout=clients.timeout)
        models += [ModelObject.from_pb(m) for m in page.data]
        if not page.has_more or not page.data:
            return ListResponse(data=models)
        after = page.data[-1].id


@router.get("/{model_id:path}", response_model=ModelObject, summary="Get a model")
async def get_model(model_id: str, clients: ClientsDep) -> ModelObject:
    m = await clients.registry.GetModel(pb.GetModelRequest(id=model_id), timeout=clients.timeout)
    return ModelObject.from_pb(m)
