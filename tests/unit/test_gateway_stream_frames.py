"""Stream frames are built as plain dicts for speed: each must be the JSON the wire models give."""

import json

import grpc
import pytest

from gateway.api.chat import serving as chat
from gateway.api.chat.protocol import (
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChoiceLogprobs,
    ChunkChoice,
    Delta,
)
from gateway.api.chat.sampling import ChatTokenLogprob, Usage
from gateway.api.completions import serving as completions
from gateway.api.completions.protocol import (
    Completion,
    CompletionChoice,
    CompletionLogprobs,
    CompletionRequest,
)
from tuneforge.v1 import inference_pb2 as pb

TEXT = 'say "hi"\n\t\\ 你好 \u2028 \x01 é'


def logprob(token: str, value: float) -> pb.TokenLogprob:
    return pb.TokenLogprob(token=token, logprob=value, bytes=token.encode(), top_logprobs=[
        pb.TopLogprob(token=token, logprob=value, bytes=token.encode()),
        pb.TopLogprob(token="x", logprob=-3.25)])


def chunks(with_logprobs: bool) -> list[pb.CompletionChunk]:
    lps = [logprob("你", -0.1234567), logprob('"', -2.0)] if with_logprobs else []
    return [pb.CompletionChunk(index=0, text=TEXT, logprobs=lps),
            pb.CompletionChunk(index=0, text="", finish_reason="length"),
            pb.CompletionChunk(usage=pb.Usage(prompt_tokens=3, completion_tokens=2,
                                              total_tokens=5))]


async def pieces(stream_fn, items, req) -> list[bytes]:
    """What the stream hands the response to write, one write each."""
    async def source():
        for item in items:
            yield item
    return [p async for p in stream_fn(source(), req)]


def payloads(written: list[bytes]) -> list[bytes]:
    """The `data:` payload of each server-sent event in `written`."""
    events = b"".join(written).split(b"\r\n\r\n")
    assert events.pop() == b"" and all(e.startswith(b"data: ") for e in events)
    return [e.removeprefix(b"data: ") for e in events]


def head(frames: list) -> tuple[str, int]:
    first = json.loads(frames[0])
    return first["id"], first["created"]


@pytest.mark.parametrize("include_usage", [True, False])
@pytest.mark.parametrize("with_logprobs", [True, False])
async def test_chat_frames_equal_the_chunk_models_json(include_usage, with_logprobs):
    req = ChatCompletionRequest(model="tiny-qwen2 \"ü\"", messages=[{"role": "user",
                                                                   "content": "hi"}],
                                stream=True, stream_options={"include_usage": include_usage},
                                logprobs=with_logprobs, top_logprobs=2 if with_logprobs else None)
    written = await pieces(chat.stream, chunks(with_logprobs), req)
    got = payloads(written)
    cid, created = head(got)

    def model(choices, usage=None) -> bytes:
        return ChatCompletionChunk(id=cid, created=created, model=req.model, choices=choices,
                                   usage=usage).model_dump_json(
            exclude=None if include_usage else {"usage"}).encode()

    lps = ChoiceLogprobs(content=[ChatTokenLogprob.from_pb(lp)
                                  for lp in chunks(True)[0].logprobs]) if with_logprobs else None
    want = [model([ChunkChoice(index=0, delta=Delta(role="assistant", content=""))]),
            model([ChunkChoice(index=0, delta=Delta(content=TEXT), logprobs=lps)]),
            model([ChunkChoice(index=0, delta=Delta(), finish_reason="length",
                               logprobs=ChoiceLogprobs() if with_logprobs else None)])]
    if include_usage:
        want.append(model([], Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)))
    assert got == want
    assert len(written) == len(want) - 1  # the role frame leaves with the first delta


@pytest.mark.parametrize("include_usage", [True, False])
@pytest.mark.parametrize("with_logprobs", [True, False])
async def test_completion_frames_equal_the_completion_models_json(include_usage, with_logprobs):
    req = CompletionRequest(model="tiny-qwen2", prompt="hi", stream=True,
                            stream_options={"include_usage": include_usage},
                            logprobs=2 if with_logprobs else None)
    got = payloads(await pieces(completions.stream, chunks(with_logprobs), req))
    cid, created = head(got)

    def model(choices, usage=None) -> bytes:
        return Completion(id=cid, created=created, model=req.model, choices=choices,
                          usage=usage).model_dump_json(
            exclude=None if usage else {"usage"}).encode()

    first = None
    if with_logprobs:
        first = CompletionLogprobs(tokens=["你", '"'], token_logprobs=[
            lp.logprob for lp in chunks(True)[0].logprobs], top_logprobs=[
            {t.token: t.logprob for t in lp.top_logprobs} for lp in chunks(True)[0].logprobs],
            text_offset=[0, 1])
    want = [model([CompletionChoice(index=0, text=TEXT, logprobs=first)]),
            model([CompletionChoice(index=0, text="", finish_reason="length",
                                    logprobs=CompletionLogprobs() if with_logprobs else None)])]
    if include_usage:
        want.append(model([], Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)))
    assert got == want


async def test_a_failure_after_the_first_byte_ends_with_an_error_frame():
    req = ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "hi"}],
                                stream=True)

    async def failing():
        yield pb.CompletionChunk(index=0, text="a")
        raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, None, None, "replica gone")

    got = payloads([p async for p in chat.stream(failing(), req)])

    assert [json.loads(p)["choices"][0]["delta"] for p in got[:2]] == [
        {"role": "assistant", "content": ""}, {"role": None, "content": "a"}]
    assert json.loads(got[-1])["error"] == {
        "message": "a TuneForge service is unavailable: replica gone", "type": "server_error",
        "param": None, "code": "unavailable"}
