"""Text completions: the request to an inference replica, its chunks to OpenAI objects."""

import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator

import grpc
from pydantic_core import to_json

from gateway.api.chat.responses import event
from gateway.api.chat.sampling import Usage, check_stop, usage_dict
from gateway.api.completions.protocol import (
    Completion,
    CompletionChoice,
    CompletionLogprobs,
    CompletionRequest,
)
from gateway.clients import Clients
from gateway.routing import open_stream
from services.common.errors import TuneForgeError
from services.common.grpc_server import request_id
from services.common.ids import new_id
from tuneforge.v1 import inference_pb2 as pb

log = logging.getLogger(__name__)


def to_pb(req: CompletionRequest) -> pb.CompletionRequest:
    check_stop(req.stop)
    prompt = req.single_prompt()
    message = pb.CompletionRequest(model=req.model, request_id=request_id.get(), echo=req.echo,
                                   params=req.sampling_pb(req.max_tokens, req.logprobs))
    if isinstance(prompt, str):
        message.text = prompt
    else:
        message.token_ids.ids.extend(prompt)
    return message


async def open_chunks(clients: Clients,
                      req: CompletionRequest) -> AsyncIterator[pb.CompletionChunk]:
    message = to_pb(req)
    return await open_stream(clients.inference.Completion(message))


class _Logprobs:
    """OpenAI's legacy logprobs of one choice, with text offsets counted as chunks arrive."""

    def __init__(self):
        self.value = CompletionLogprobs()
        self.offset = 0

    def add(self, chunk: pb.CompletionChunk) -> CompletionLogprobs:
        part = CompletionLogprobs()
        for lp in chunk.logprobs:
            part.tokens.append(lp.token)
            part.token_logprobs.append(lp.logprob)
            part.top_logprobs.append({t.token: t.logprob for t in lp.top_logprobs})
            part.text_offset.append(self.offset)
            self.offset += len(lp.token)
        for name in ("tokens", "token_logprobs", "top_logprobs", "text_offset"):
            getattr(self.value, name).extend(getattr(part, name))
        return part

    def skip(self, text: str) -> None:
        self.offset += len(text)  # echoed prompt text comes before the first token


async def complete(clients: Clients, req: CompletionRequest) -> Completion:
    texts: dict[int, list[str]] = {i: [] for i in range(req.n)}
    finish: dict[int, str | None] = {i: None for i in range(req.n)}
    logprobs = {i: _Logprobs() for i in range(req.n)}
    usage = None
    try:
        async for c in await open_chunks(clients, req):
            if c.HasField("usage"):
                usage = Usage.from_pb(c.usage)
                continue
            texts[c.index].append(c.text)
            finish[c.index] = c.finish_reason or finish[c.index]
            if c.logprobs:
                logprobs[c.index].add(c)
            elif c.text:
                logprobs[c.index].skip(c.text)
    except grpc.aio.AioRpcError as e:
        raise TuneForgeError.from_rpc_error(e) from None
    return Completion(model=req.model, usage=usage, choices=[
        CompletionChoice(index=i, text="".join(texts[i]), finish_reason=finish[i],
                         logprobs=logprobs[i].value if req.logprobs is not None else None)
        for i in range(req.n)])


async def stream(chunks: AsyncIterator[pb.CompletionChunk],
                 req: CompletionRequest) -> AsyncGenerator[bytes, None]:
    """Server-sent events: text deltas with finish reasons, then usage when asked for ([DONE] is
    the response's to send). Frames are plain dicts in the Completion model's field order,
    serialised by its serialiser, pydantic-core, as the chat stream's are."""
    head = {"id": new_id("cmpl"), "object": "text_completion", "created": int(time.time()),
            "model": req.model}
    logprobs = {i: _Logprobs() for i in range(req.n)}

    try:
        async for c in chunks:
            if c.HasField("usage"):
                if req.include_usage():
                    yield event(to_json({**head, "choices": [],
                                         "usage": usage_dict(c.usage)}))
                continue
            if not (c.text or c.finish_reason or c.logprobs):
                continue
            part = None
            if req.logprobs is not None:
                part = (logprobs[c.index].add(c) if c.logprobs else CompletionLogprobs()) \
                    .model_dump()
            yield event(to_json({**head, "choices": [{
                "index": c.index, "text": c.text, "finish_reason": c.finish_reason or None,
                "logprobs": part}]}))
    except grpc.aio.AioRpcError as e:
        err = TuneForgeError.from_rpc_error(e)
        log.warning("stream failed after its first byte: %s", err.message)
        yield event(json.dumps(err.to_openai()))
