"""/v1/models: the registry's models in OpenAI's shape, deletion and download."""

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, StreamingResponse

from gateway.api.common import ERRORS, ListResponse
from gateway.api.models.protocol import ModelDeleted, ModelObject
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


# Declared before the catch-all below, whose `path` parameter would swallow "/download".
@router.get("/{model_id:path}/download", summary="Download a model as a tar archive",
            response_class=StreamingResponse,
            responses={200: {"content": {"application/x-tar": {}}},
                       307: {"description": "Redirect to a presigned S3 URL of the archive."}})
async def download_model(model_id: str, clients: ClientsDep):
    """safetensors weights, config and tokenizer in one folder, loadable by transformers/vLLM."""
    stream = clients.registry.ExportModel(pb.ExportModelRequest(id=model_id))
    # The header comes first, so a refusal is still an error response, not a broken stream.
    first = await anext(aiter(stream))
    header = first.header
    if header.url:
        stream.cancel()
        return RedirectResponse(header.url, status_code=307)

    async def body():
        async for chunk in stream:
            yield chunk.data

    return StreamingResponse(body(), media_type="application/x-tar", headers={
        "Content-Disposition": f'attachment; filename="{header.filename}"',
        "Content-Length": str(header.size_bytes)})


@router.get("/{model_id:path}", response_model=ModelObject, summary="Get a model")
async def get_model(model_id: str, clients: ClientsDep) -> ModelObject:
    m = await clients.registry.GetModel(pb.GetModelRequest(id=model_id), timeout=clients.timeout)
    return ModelObject.from_pb(m)


@router.delete("/{model_id:path}", response_model=ModelDeleted, summary="Delete a model")
async def delete_model(model_id: str, clients: ClientsDep) -> ModelDeleted:
    """Refused (409) while the model is deployed, is another model's base, or has an alias."""
    r = await clients.registry.DeleteModel(pb.DeleteModelRequest(id=model_id),
                                           timeout=clients.timeout)
    return ModelDeleted(id=r.id, deleted=r.deleted)
