"""/v1/completions."""

from fastapi import APIRouter, Request

from gateway.api.chat.responses import sse, unless_disconnected
from gateway.api.common import ERRORS
from gateway.api.completions import serving
from gateway.api.completions.protocol import Completion, CompletionRequest
from gateway.clients import ClientsDep

router = APIRouter(prefix="/v1", tags=["completions"], responses=ERRORS)


@router.post("/completions", response_model=Completion,
             summary="Continue a prompt with a deployed model",
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "JSON, or server-sent events when stream=true."}})
async def completions(body: CompletionRequest, clients: ClientsDep, request: Request):
    if not body.stream:
        return await unless_disconnected(request, serving.complete(clients, body))
    chunks = await serving.open_chunks(clients, body)
    return sse(serving.stream(chunks, body))
