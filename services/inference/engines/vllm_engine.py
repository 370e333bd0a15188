"""An engine that runs vLLM's OpenAI server as a managed subprocess and proxies to it.

The server gets the model folder, the registry's chat template, LoRA enabled with a rank large
enough for the adapters, and runtime adapter loading. Generation goes through its
/v1/completions with the prompt as token ids and `return_tokens_as_token_ids`, so our serving
layer keeps counting, detokenizing and cutting stop strings exactly as for every engine.
"""

import asyncio
import importlib.util
import json
import logging
import os
import shlex
import sys
import tempfile
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from services.common.chat import stop_token_ids
from services.common.errors import TuneForgeError
from services.inference.engines.base import (
    Adapter,
    Engine,
    EngineSpec,
    GenerationRequest,
    SampledToken,
)
from services.inference.engines.subprocess_server import ManagedServer

log = logging.getLogger(__name__)

BASE_NAME = "base"  # the served-model-name of the base weights inside the subprocess
DEFAULT_COMMAND = f"{shlex.quote(sys.executable)} -m vllm.entrypoints.openai.api_server"


def vllm_available() -> bool:
    """vLLM is installed (the `gpu` extra) and there is a GPU to run it on."""
    return importlib.util.find_spec("vllm") is not None and torch.cuda.is_available()


class VLLMEngine(Engine):
    def __init__(self, spec: EngineSpec, command: str = DEFAULT_COMMAND,
                 start_timeout_s: float = 900.0):
        self.spec = spec
        self.command = shlex.split(command)
        self.start_timeout_s = start_timeout_s
        self._server: ManagedServer | None = None
        self._client: httpx.AsyncClient | None = None
        self._tokenizer: PreTrainedTokenizerBase | None = None
        self._stop_ids: frozenset[int] = frozenset()
        self._context_length = 0
        self._adapters: OrderedDict[str, Adapter] = OrderedDict()
        self._adapter_lock = asyncio.Lock()
        self._in_flight = 0
        self._template_dir = tempfile.TemporaryDirectory(prefix="tuneforge-vllm-")

    def args(self, port: int) -> list[str]:
        """vLLM's command line for this spec."""
        s = self.spec
        template = Path(self._template_dir.name) / "chat_template.jinja"
        template.write_text(s.chat_template or self._tokenizer.chat_template or "")
        args = [*self.command, "--model", str(s.model_dir), "--served-model-name", BASE_NAME,
                "--host", "127.0.0.1", "--port", str(port),
                "--max-num-seqs", str(s.max_concurrent_requests),
                "--chat-template", str(template),
                "--enable-lora", "--max-loras", str(s.max_loras),
                "--max-lora-rank", str(_vllm_rank(s.max_lora_rank))]
        if s.max_context:
            args += ["--max-model-len", str(s.max_context)]
        if len(s.gpus) > 1:
            args += ["--tensor-parallel-size", str(len(s.gpus))]
        return args

    async def load(self) -> None:
        self._tokenizer = await asyncio.to_thread(AutoTokenizer.from_pretrained,
                                                  self.spec.model_dir)
        if self.spec.chat_template:
            self._tokenizer.chat_template = self.spec.chat_template
        self._stop_ids = frozenset(self.spec.stop_token_ids
                                   or stop_token_ids(self._tokenizer, self.spec.model_dir))
        env = {"VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True"}
        if self.spec.gpus:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, self.spec.gpus))
        self._server = ManagedServer(self.args, env={**os.environ, **env},
                                     name=f"vllm-{Path(self.spec.model_dir).name}")
        base_url = await self._server.start(self.start_timeout_s)
        self._client = httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(None,
                                                                                   connect=10))
        models = (await self._client.get("/v1/models")).json()["data"]
        self._context_length = int(next(m for m in models if m["id"] == BASE_NAME)
                                   .get("max_model_len") or self.spec.max_context or 0)
        if not self._context_length:
            config = json.loads((Path(self.spec.model_dir) / "config.json").read_text())
            self._context_length = int(config["max_position_embeddings"])

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        if self._tokenizer is None:
            raise RuntimeError("the engine is not loaded")
        return self._tokenizer

    @property
    def context_length(self) -> int:
        return self._context_length

    @property
    def stop_token_ids(self) -> frozenset[int]:
        return self._stop_ids

    @property
    def outstanding(self) -> int:
        return self._in_flight

    async def generate(self, request: GenerationRequest) -> AsyncIterator[SampledToken]:
        if self._client is None:
            raise TuneForgeError("unavailable", "The model is not loaded in this deployment.")
        model = await self._use_adapter(request.adapter) if request.adapter else BASE_NAME
        self._in_flight += 1
        try:
            async with self._client.stream("POST", "/v1/completions",
                                           json=completion_body(model, request)) as resp:
                if resp.status_code != 200:
                    raise _server_error(resp.status_code, (await resp.aread()).decode())
                last, finish = None, None
                async for token, reason in _sse_tokens(resp):
                    finish = reason or finish
                    if token is not None:
                        last = token.id
                        yield token if request.logprobs is not None else SampledToken(token.id)
                if finish == "stop" and last not in request.stop_token_ids \
                        and request.stop_token_ids:
                    # vLLM leaves the stop token out of the stream; it still counts in usage.
                    yield SampledToken(min(request.stop_token_ids))
        except httpx.HTTPError as e:
            raise TuneForgeError("unavailable", f"The vLLM server stopped answering: {e}") from e
        finally:
            self._in_flight -= 1

    async def _use_adapter(self, adapter: Adapter) -> str:
        async with self._adapter_lock:
            if adapter.name in self._adapters:
                self._adapters.move_to_end(adapter.name)
                return adapter.name
            if len(self._adapters) >= self.spec.max_loras:
                victim, _ = self._adapters.popitem(last=False)
                await self._client.post("/v1/unload_lora_adapter", json={"lora_name": victim})
            resp = await self._client.post("/v1/load_lora_adapter", json={
                "lora_name": adapter.name, "lora_path": str(adapter.path)})
            if resp.status_code != 200:
                raise TuneForgeError(
                    "invalid_argument", f"The adapter '{adapter.name}' cannot be loaded on its "
                    f"base model: {resp.text.strip()}", "model")
            self._adapters[adapter.name] = adapter
            return adapter.name

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._server is not None:
            await self._server.stop()
            self._server = None
        self._template_dir.cleanup()


def completion_body(model: str, request: GenerationRequest) -> dict:
    """The /v1/completions body vLLM needs to stream token ids for `request`."""
    body = {
        "model": model, "prompt": list(request.prompt_token_ids),
        "max_tokens": request.max_tokens, "temperature": request.temperature,
        "top_p": request.top_p, "top_k": request.top_k or -1,
        "presence_penalty": request.presence_penalty,
        "frequency_penalty": request.frequency_penalty,
        "stop_token_ids": sorted(request.stop_token_ids), "stream": True,
        "logprobs": request.logprobs or 0, "return_tokens_as_token_ids": True,
        "skip_special_tokens": False,
    }
    if request.seed is not None:
        body["seed"] = request.seed
    return body


async def _sse_tokens(
        resp: httpx.Response) -> AsyncIterator[tuple[SampledToken | None, str | None]]:
    """(token, finish_reason) pairs of a streamed completion; token None on a bare finish."""
    async for line in resp.aiter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        event = json.loads(data)
        if "error" in event:
            raise _server_error(500, json.dumps(event["error"]))
        for choice in event.get("choices", []):
            lp = choice.get("logprobs") or {}
            tops = lp.get("top_logprobs") or [None] * len(lp.get("tokens") or [])
            for tok, logprob, top in zip(lp.get("tokens") or [], lp.get("token_logprobs") or [],
                                         tops, strict=False):
                yield SampledToken(_token_id(tok), logprob, tuple(
                    sorted(((_token_id(t), v) for t, v in (top or {}).items()),
                           key=lambda p: -p[1]))), choice.get("finish_reason")
            if choice.get("finish_reason") and not lp.get("tokens"):
                yield None, choice["finish_reason"]


def _token_id(token: str) -> int:
    # return_tokens_as_token_ids spells each token "token_id:<id>".
    return int(token.rsplit(":", 1)[1])


def _vllm_rank(rank: int) -> int:
    # vLLM accepts only these ranks; round up to the next one.
    for allowed in (8, 16, 32, 64, 128, 256, 320, 512):
        if rank <= allowed:
            return allowed
    return rank


def _server_error(status: int, text: str) -> TuneForgeError:
    code = "invalid_argument" if 400 <= status < 500 else "unavailable"
    return TuneForgeError(code, f"The vLLM server answered {status}: {text.strip()[:500]}")
