"""Chat completions: the request to the inference service, its chunk stream to OpenAI objects."""

import json
import logging
from collections.abc import AsyncIterator

import grpc

from gateway.api.chat.protocol import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    ResponseMessage,
    Usage,
)
from gateway.clients import Clients
from services.common.errors import TuneForgeError
from services.common.grpc_server import request_id
from tuneforge.v1 import inference_pb2 as pb

log = logging.getLogger(__name__)


def to_pb(req: ChatCompletionRequest) -> pb.ChatCompletionRequest:
    params = pb.SamplingParams(stop=req.stop_list(), n=req.n)
    max_tokens = req.max_completion_tokens or req.max_tokens
    if max_tokens is not None:
        params.max_tokens = max_tokens
    if req.temperature is not None:
        params.temperature = req.temperature
    if req.top_p is not None:
        params.top_p = req.top_p
    if req.seed is not None:
        params.seed = req.seed
    return pb.ChatCompletionRequest(
        model=req.model, params=params, request_id=request_id.get(),
        messages=[pb.ChatMessage(role="system" if m.role == "developer" else m.role,
                                 content=m.text()) for m in req.messages])


def _usage(u: pb.Usage) -> Usage:
    return Usage(prompt_tokens=u.prompt_tokens, completion_tokens=u.completion_tokens,
                 total_tokens=u.total_tokens)


async def open_stream(clients: Clients, req: ChatCompletionRequest) -> AsyncIterator[pb.CompletionChunk]:
    """Start generation and wait for its first chunk, so errors come before any byte is sent."""
    call = clients.inference.ChatCompletion(to_pb(req))
    it = call.__aiter__()
    try:
        first = await it.__anext__()
    except grpc.aio.AioRpcError as e:
        raise TuneForgeError.from_rpc_error(e) from None
    except StopAsyncIteration:
        raise TuneForgeError("internal", "The inference service returned no output.") from None

    async def chunks():
        yield first
        async for c in it:
            yield c

    return chunks()


async def complete(clients: Clients, req: ChatCompletionRequest) -> ChatCompletion:
    texts: dict[int, list[str]] = {i: [] for i in range(req.n)}
    finish: dict[int, str | None] = {i: None for i in range(req.n)}
    usage = Usage(prompt_tokens=0, completion_tokens=0, total_tokens=0)
    try:
        async for c in await open_stream(clients, req):
            if c.HasField("usage"):
                usage = _usage(c.usage)
                continue
            texts[c.index].append(c.text)
            finish[c.index] = c.finish_reason or finish[c.index]
    except grpc.aio.AioRpcError as e:
        raise TuneForgeError.from_rpc_error(e) from None
    return ChatCompletion(model=req.model, usage=usage, choices=[
        Choice(index=i, message=ResponseMessage(content="".join(texts[i])),
               finish_reason=finish[i]) for i in range(req.n)])


async def stream(chunks: AsyncIterator[pb.CompletionChunk],
                 req: ChatCompletionRequest) -> AsyncIterator[str]:
    """SSE `data:` payloads: role, content deltas, finish reasons, usage, then [DONE].

    A failure after the first byte cannot change the status any more: it ends the stream with
    an error frame, then [DONE], as OpenAI-compatible servers do.
    """
    head = ChatCompletion(model=req.model, choices=[], usage=Usage(
        prompt_tokens=0, completion_tokens=0, total_tokens=0))
    include_usage = bool(req.stream_options and req.stream_options.include_usage)

    def frame(choices: list[ChunkChoice], usage: Usage | None = None) -> str:
        chunk = ChatCompletionChunk(id=head.id, created=head.created, model=req.model,
                                    choices=choices, usage=usage)
        return chunk.model_dump_json(exclude_unset=False, exclude={"usage"}
                                     if not include_usage else None)

    for i in range(req.n):
        yield frame([ChunkChoice(index=i, delta=Delta(role="assistant", content=""))])
    try:
        async for c in chunks:
            if c.HasField("usage"):
                if include_usage:
                    yield frame([], _usage(c.usage))
                continue
            if c.text or c.finish_reason:
                yield frame([ChunkChoice(index=c.index,
                                         delta=Delta(content=c.text) if c.text else Delta(),
                                         finish_reason=c.finish_reason or None)])
    except grpc.aio.AioRpcError as e:
        err = TuneForgeError.from_rpc_error(e)
        log.warning("stream failed after its first byte: %s", err.message)
        yield json.dumps(err.to_openai())
    yield "[DONE]"
