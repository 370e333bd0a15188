"""/v1/chat/completions."""

from fastapi import APIRouter
from sse_starlette import EventSourceResponse

from gateway.api.chat import serving
from gateway.api.chat.protocol import ChatCompletion, ChatCompletionRequest
from gateway.api.common import ERRORS
from gateway.clients import ClientsDep

router = APIRouter(prefix="/v1", tags=["chat"], responses=ERRORS)


@router.post("/chat/completions", response_model=ChatCompletion,
             summary="Chat with a deployed model",
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "JSON, or server-sent events when stream=true."}})
async def chat_completions(body: ChatCompletionRequest, clients: ClientsDep):
    if not body.stream:
        return await serving.complete(clients, body)
    chunks = await serving.open_stream(clients, body)
    # Pings keep idle proxies from closing a long generation; clients ignore comment lines.
    return EventSourceResponse(_events(serving.stream(chunks, body)), ping=15)


async def _events(payloads):
    async for p in payloads:
        yield {"data": p}
