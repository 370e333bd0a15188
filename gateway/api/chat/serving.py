"""Chat completions: the request to an inference replica, its chunk stream to OpenAI objects."""

import json
import logging
from collections.abc import AsyncIterator

import grpc

from gateway.api.chat.protocol import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChoiceLogprobs,
    ChunkChoice,
    Delta,
    ResponseMessage,
)
from gateway.api.chat.sampling import ChatTokenLogprob, Usage, check_stop
from gateway.clients import Clients
from gateway.routing import open_stream
from services.common.errors import TuneForgeError
from services.common.grpc_server import request_id
from tuneforge.v1 import inference_pb2 as pb

log = logging.getLogger(__name__)


def to_pb(req: ChatCompletionRequest) -> pb.ChatCompletionRequest:
    check_stop(req.stop)
    return pb.ChatCompletionRequest(
        model=req.model, request_id=request_id.get(),
        params=req.sampling_pb(req.max_completion_tokens or req.max_tokens, req.logprobs_k()),
        messages=[pb.ChatMessage(role="system" if m.role == "developer" else m.role,
                                 content=m.text()) for m in req.messages])


async def open_chunks(clients: Clients,
                      req: ChatCompletionRequest) -> AsyncIterator[pb.CompletionChunk]:
    """Start generation; errors surface here, before any byte of the response."""
    message = to_pb(req)
    return await open_stream(clients.inference.ChatCompletion(message))


async def complete(clients: Clients, req: ChatCompletionRequest) -> ChatCompletion:
    texts: dict[int, list[str]] = {i: [] for i in range(req.n)}
    finish: dict[int, str | None] = {i: None for i in range(req.n)}
    logprobs: dict[int, list[ChatTokenLogprob]] = {i: [] for i in range(req.n)}
    usage = Usage(prompt_tokens=0, completion_tokens=0, total_tokens=0)
    try:
        async for c in await open_chunks(clients, req):
            if c.HasField("usage"):
                usage = Usage.from_pb(c.usage)
                continue
            texts[c.index].append(c.text)
            finish[c.index] = c.finish_reason or finish[c.index]
            logprobs[c.index] += [ChatTokenLogprob.from_pb(lp) for lp in c.logprobs]
    except grpc.aio.AioRpcError as e:
        raise TuneForgeError.from_rpc_error(e) from None
    return ChatCompletion(model=req.model, usage=usage, choices=[
        Choice(index=i, message=ResponseMessage(content="".join(texts[i])),
               finish_reason=finish[i],
               logprobs=ChoiceLogprobs(content=logprobs[i]) if req.logprobs else None)
        for i in range(req.n)])


async def stream(chunks: AsyncIterator[pb.CompletionChunk],
                 req: ChatCompletionRequest) -> AsyncIterator[str]:
    """SSE `data:` payloads: role, content deltas, finish reasons, usage, then [DONE].

    A failure after the first byte cannot change the status any more: it ends the stream with
    an error frame, then [DONE], as OpenAI-compatible servers do.
    """
    head = ChatCompletion(model=req.model, choices=[], usage=Usage(
        prompt_tokens=0, completion_tokens=0, total_tokens=0))
    include_usage = req.include_usage()

    def frame(choices: list[ChunkChoice], usage: Usage | None = None) -> str:
        chunk = ChatCompletionChunk(id=head.id, created=head.created, model=req.model,
                                    choices=choices, usage=usage)
        # Without include_usage the field is left out, as OpenAI does.
        return chunk.model_dump_json(exclude=None if include_usage else {"usage"})

    for i in range(req.n):
        yield frame([ChunkChoice(index=i, delta=Delta(role="assistant", content=""))])
    try:
        async for c in chunks:
            if c.HasField("usage"):
                if include_usage:
                    yield frame([], Usage.from_pb(c.usage))
                continue
            if c.text or c.finish_reason or c.logprobs:
                logprobs = ChoiceLogprobs(content=[ChatTokenLogprob.from_pb(lp)
                                                   for lp in c.logprobs]) \
                    if req.logprobs else None
                yield frame([ChunkChoice(index=c.index,
                                         delta=Delta(content=c.text) if c.text else Delta(),
                                         finish_reason=c.finish_reason or None,
                                         logprobs=logprobs)])
    except grpc.aio.AioRpcError as e:
        err = TuneForgeError.from_rpc_error(e)
        log.warning("stream failed after its first byte: %s", err.message)
        yield json.dumps(err.to_openai())
    yield "[DONE]"
