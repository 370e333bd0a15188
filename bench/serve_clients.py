"""The three ways serve_bench drives a model: the baseline, the inference service, the gateway.

Each `request` returns one Sample: when the first token came, when the last did, and how many
completion tokens there were, all measured on the client's clock.
"""

import asyncio
import json
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
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
    """/v1/chat/completions with stream=true, through the gateway, as an OpenAI client would."""

    def __init__(self, url: str):
        self.http = httpx.AsyncClient(base_url=url, timeout=600,
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
