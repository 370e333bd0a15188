"""Text completions: the request to an inference replica, its chunks to OpenAI objects."""

import json
import logging
from collections.abc import AsyncIterator

import grpc

from gateway.api.chat.sampling import Usage, check_stop
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
                 req: CompletionRequest) -> AsyncIterator[str]:
    """SSE payloads: text deltas with finish reasons, usage when asked for, then [DONE]."""
    head = Completion(model=req.model, choices=[])
    logprobs = {i: _Logprobs() for i in range(req.n)}

    def frame(choices: list[CompletionChoice], usage: Usage | None = None) -> str:
        out = Completion(id=head.id, created=head.created, model=req.model, choices=choices,
                         usage=usage)
        return out.model_dump_json(exclude=None if usage else {"usage"})

    try:
        async for c in chunks:
            if c.HasField("usage"):
                if req.include_usage():
                    yield frame([], Usage.from_pb(c.usage))
                continue
            if not (c.text or c.finish_reason or c.logprobs):
                continue
            part = None
            if req.logprobs is not None:
                part = logprobs[c.index].add(c) if c.logprobs else CompletionLogprobs()
            yield frame([CompletionChoice(index=c.index, text=c.text,
                                          finish_reason=c.finish_reason or None, logprobs=part)])
    except grpc.aio.AioRpcError as e:
        err = TuneForgeError.from_rpc_error(e)
        log.warning("stream failed after its first byte: %s", err.message)
        yield json.dumps(err.to_openai())
    yield "[DONE]"
