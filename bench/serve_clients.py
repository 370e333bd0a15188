"""The ways serve_bench drives a model: the baseline, the inference service, the gateway.

Each `request` returns one Sample: when the first token came, when the last did, and how many
completion tokens there were, all measured on the client's clock.
"""

import asyncio
import json
import queue
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import httptools
import httpx
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.generation.streamers import BaseStreamer

from services.common.chat import tokenize_prompt
from services.common.grpc_client import channel
from tuneforge.v1 import inference_pb2 as pb
from tuneforge.v1 import inference_pb2_grpc


@dataclass(frozen=True)
class Sample:
    ttft_s: float
    latency_s: float
    tokens: int


class Baseline:
    """transformers `generate`, one request at a time in arrival order, as a naive server."""

    def __init__(self, model_dir: Path, device: str):
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device)
        self.device = device
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            prompt, max_tokens, first, done = self.jobs.get()
            streamer = _FirstToken(first)
            with torch.inference_mode():
                out = self.model.generate(torch.tensor([prompt], device=self.device),
                                          max_new_tokens=max_tokens, do_sample=False,
                                          eos_token_id=None, streamer=streamer)
            done(out.shape[1] - len(prompt))

    async def request(self, messages: list[dict], max_tokens: int) -> Sample:
        loop = asyncio.get_running_loop()
        started, first_at = time.perf_counter(), loop.create_future()
        finished = loop.create_future()
        prompt = tokenize_prompt(self.tokenizer, messages)
        self.jobs.put((prompt, max_tokens,
                       lambda: loop.call_soon_threadsafe(first_at.set_result, time.perf_counter()),
                       lambda n: loop.call_soon_threadsafe(finished.set_result, n)))
        tokens = await finished
        return Sample(await first_at - started, time.perf_counter() - started, tokens)


class _FirstToken(BaseStreamer):
    """Calls `first` when generate hands over its first new token (after the prompt)."""

    def __init__(self, first):
        self.first, self.calls = first, 0

    def put(self, value) -> None:
        self.calls += 1
        if self.calls == 2:  # the first call carries the prompt
            self.first()

    def end(self) -> None:
        pass


class Direct:
    """The inference service's ChatCompletion RPC, no gateway in between."""

    def __init__(self, address: str):
        self.channel = channel(address)
        self.stub = inference_pb2_grpc.InferenceServiceStub(self.channel)

    async def request(self, model: str, messages: list[dict], max_tokens: int) -> Sample:
        started, first, tokens = time.perf_counter(), None, 0
        req = pb.ChatCompletionRequest(
            model=model, messages=[pb.ChatMessage(**m) for m in messages],
            params=pb.SamplingParams(max_tokens=max_tokens, temperature=0))
        async for chunk in self.stub.ChatCompletion(req):
            if first is None:
                first = time.perf_counter()
            if chunk.HasField("usage"):
                tokens = chunk.usage.completion_tokens
        return Sample(first - started, time.perf_counter() - started, tokens)

    async def close(self) -> None:
        await self.channel.close()


class Gateway:
    """/v1/chat/completions with stream=true through the gateway, on a lean HTTP/1.1 client.

    Keep-alive connections whose responses httptools (uvicorn's parser, in C) reads, so that
    what the gateway adds is not lost in the client's own cost: httpx spends a few ms of CPU
    per streamed request, more than the gRPC client it is compared with (`GatewayHttpx`
    measures that path too).
    """

    def __init__(self, url: str, api_key: str | None = None):
        u = urlsplit(url)
        self.host, self.port = u.hostname, u.port
        auth = f"Authorization: Bearer {api_key}\r\n" if api_key else ""
        self.head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {u.netloc}\r\n{auth}"
                     "Content-Type: application/json\r\nAccept: text/event-stream\r\n")
        self.idle: list[_Connection] = []

    async def request(self, model: str, messages: list[dict], max_tokens: int) -> Sample:
        started, first, tokens = time.perf_counter(), None, 0
        body = json.dumps({"model": model, "messages": messages, "max_tokens": max_tokens,
                           "temperature": 0, "stream": True,
                           "stream_options": {"include_usage": True}}).encode()
        request = f"{self.head}Content-Length: {len(body)}\r\n\r\n".encode() + body
        conn, pending = await self._connection(), b""
        try:
            pieces = await conn.exchange(request)
        except _Stale:  # the server closed it while idle (uvicorn's keep-alive timeout)
            conn = await _Connection.open(self.host, self.port)
            pieces = await conn.exchange(request)
        async for piece in pieces:
            pending += piece.replace(b"\r\n", b"\n")
            *events, pending = pending.split(b"\n\n")
            for event in events:
                if not event.startswith(b"data: ") or event == b"data: [DONE]":
                    continue
                if first is None:
                    first = time.perf_counter()
                if b'"usage":{' in event:
                    tokens = json.loads(event[6:])["usage"]["completion_tokens"]
        self.idle.append(conn)
        return Sample(first - started, time.perf_counter() - started, tokens)

    async def _connection(self) -> "_Connection":
        while self.idle:
            conn = self.idle.pop()
            if not conn.reader.at_eof():
                return conn
            conn.writer.close()
        return await _Connection.open(self.host, self.port)

    async def close(self) -> None:
        for conn in self.idle:
            conn.writer.close()
        self.idle.clear()


class _Stale(ConnectionError):
    """A kept-alive connection closed before any byte of the response: safe to retry."""


class _Connection:
    """One keep-alive HTTP/1.1 connection; httptools calls `on_body` and the rest as it parses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.parser = httptools.HttpResponseParser(self)
        self.body: list[bytes] = []
        self.complete = False

    @classmethod
    async def open(cls, host: str, port: int) -> "_Connection":
        return cls(*await asyncio.open_connection(host, port))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True

    async def exchange(self, request: bytes) -> AsyncIterator[bytes]:
        """Send `request` and wait for the response to begin; then its body comes from the
        returned iterator as it arrives (decoded from chunks)."""
        self.writer.write(request)
        self.complete = False
        try:
            data = await self.reader.read(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.writer.close()
            raise _Stale("the gateway closed the connection")
        return self._body(data)

    async def _body(self, data: bytes) -> AsyncIterator[bytes]:
        status = None
        while True:
            self.parser.feed_data(data)
            status = status or self.parser.get_status_code()
            if self.body and status == 200:
                piece, self.body = b"".join(self.body), []
                yield piece
            if self.complete:
                break
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("the gateway closed the connection mid-response")
        if status != 200:
            raise RuntimeError(f"gateway answered {status}: {b''.join(self.body)[:500]!r}")


class GatewayHttpx:
    """The same request with httpx, the openai SDK's transport, as an OpenAI client would."""

    def __init__(self, url: str, api_key: str | None = None):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        self.http = httpx.AsyncClient(base_url=url, timeout=600, headers=headers,
                                      limits=httpx.Limits(max_connections=64))

    async def request(self, model: str, messages: list[dict], max_tokens: int) -> Sample:
        started, first, tokens = time.perf_counter(), None, 0
        body = {"model": model, "messages": messages, "max_tokens": max_tokens,
                "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}
        async with self.http.stream("POST", "/v1/chat/completions", json=body) as r:
            if r.status_code != 200:
                raise RuntimeError(f"gateway answered {r.status_code}: {await r.aread()}")
            async for line in r.aiter_lines():
                if not line.startswith("data:") or line == "data: [DONE]":
                    continue
                if first is None:
                    first = time.perf_counter()
                if usage := json.loads(line[5:]).get("usage"):
                    tokens = usage["completion_tokens"]
        return Sample(first - started, time.perf_counter() - started, tokens)

    async def close(self) -> None:
        await self.http.aclose()


def grpc_error(e: grpc.aio.AioRpcError) -> str:
    return f"{e.code().name}: {e.details()}"
