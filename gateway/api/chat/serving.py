"""Chat completions: the request to an inference replica, its chunk stream to OpenAI objects."""

import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator

import grpc
from pydantic_core import to_json

from gateway.api.chat.protocol import (
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    ChoiceLogprobs,
    ResponseMessage,
)
from gateway.api.chat.responses import event
from gateway.api.chat.sampling import (
    ChatTokenLogprob,
    Usage,
    check_stop,
    logprob_dict,
    usage_dict,
)
from gateway.clients import Clients
from gateway.routing import open_stream
from services.common.errors import TuneForgeError
from services.common.grpc_server import request_id
from services.common.ids import new_id
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
                 req: ChatCompletionRequest) -> AsyncGenerator[bytes, None]:
    """Server-sent events: role, content deltas, finish reasons, then usage when asked for
    ([DONE] is the response's to send).

    A failure after the first byte cannot change the status any more: it ends the stream with
    an error frame, then [DONE], as OpenAI-compatible servers do.

    Frames are plain dicts serialised by pydantic-core, the serialiser of the
    ChatCompletionChunk model, in its field order: the same JSON (a test holds them equal)
    without building and validating models for every token. The role frames leave with the
    first delta, in one write: `open_chunks` has the first chunk in hand already.
    """
    head = {"id": new_id("chatcmpl"), "object": "chat.completion.chunk",
            "created": int(time.time()), "model": req.model}
    include_usage = req.include_usage()

    def frame(choices: list[dict], usage: dict | None = None) -> bytes:
        chunk = {**head, "choices": choices}
        if include_usage:  # without it the field is left out, as OpenAI does
            chunk["usage"] = usage
        return event(to_json(chunk))

    pending = b"".join(frame([{"index": i, "delta": {"role": "assistant", "content": ""},
                               "finish_reason": None, "logprobs": None}])
                       for i in range(req.n))
    try:
        async for c in chunks:
            if c.HasField("usage"):
                if not include_usage:
                    continue
                out = frame([], usage_dict(c.usage))
            elif c.text or c.finish_reason or c.logprobs:
                logprobs = {"content": [logprob_dict(lp) for lp in c.logprobs]} \
                    if req.logprobs else None
                delta = {"role": None, "content": c.text or None}
                out = frame([{"index": c.index, "delta": delta,
                              "finish_reason": c.finish_reason or None, "logprobs": logprobs}])
            else:
                continue
            yield pending + out
            pending = b""
    except grpc.aio.AioRpcError as e:
        err = TuneForgeError.from_rpc_error(e)
        log.warning("stream failed after its first byte: %s", err.message)
        pending += event(json.dumps(err.to_openai()))
    if pending:
        yield pending
