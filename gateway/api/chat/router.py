"""/v1/chat/completions."""

from fastapi import APIRouter, Request

from gateway.api.chat import serving
from gateway.api.chat.protocol import ChatCompletion, ChatCompletionRequest
from gateway.api.chat.responses import sse, unless_disconnected
from gateway.api.common import ERRORS
from gateway.clients import ClientsDep

router = APIRouter(prefix="/v1", tags=["chat"], responses=ERRORS)


@router.post("/chat/completions", response_model=ChatCompletion,
             summary="Chat with a deployed model",
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "JSON, or server-sent events when stream=true."}})
async def chat_completions(body: ChatCompletionRequest, clients: ClientsDep, request: Request):
    if not body.stream:
        return await unless_disconnected(request, serving.complete(clients, body))
    chunks = await serving.open_chunks(clients, body)
    return sse(serving.stream(chunks, body))
