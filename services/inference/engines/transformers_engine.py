"""An engine on Hugging Face transformers: one request at a time, decoding with a KV cache."""

import asyncio
import gc
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    DynamicCache,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from services.common.chat import stop_token_ids
from services.common.errors import TuneForgeError
from services.inference.engines.base import Engine, GenerationRequest
from services.inference.engines.sampling import sample_token

log = logging.getLogger(__name__)

_END = object()  # the worker's last item on a request's queue


def resolve_device(name: str) -> torch.device:
    """`auto` is the first CUDA device when there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class TransformersEngine(Engine):
    """A causal LM from a local folder, fp32 on CPU and bf16 on CUDA."""

    def __init__(self, model_dir: Path, device: str = "auto"):
        self.model_dir = Path(model_dir)
        self.device = resolve_device(device)
        # One worker thread: torch never blocks the event loop, and requests take turns.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine")
        self._closed = threading.Event()
        self._model: PreTrainedModel | None = None
        self._tokenizer: PreTrainedTokenizerBase | None = None
        self._context_length = 0
        self._stop_ids: frozenset[int] = frozenset()

    async def load(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._worker, self._load)

    def _load(self) -> None:
        tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=dtype)
        context = getattr(model.config, "max_position_embeddings", None)
        if not context:
            raise ValueError(f"{self.model_dir}/config.json sets no max_position_embeddings")
        self._model = model.to(self.device).eval()
        self._tokenizer, self._context_length = tokenizer, int(context)
        self._stop_ids = frozenset(stop_token_ids(tokenizer, self.model_dir))
        log.info("loaded %s on %s (%s, context %d)", self.model_dir, self.device, dtype, context)

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

    async def generate(self, request: GenerationRequest) -> AsyncIterator[int]:
        if self._closed.is_set() or self._model is None:
            raise TuneForgeError("unavailable", "The model is not loaded in this deployment.")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()

        def emit(item) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone: nobody is listening any more
                cancel.set()

        loop.run_in_executor(self._worker, self._run, request, emit, cancel)
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            # The worker checks this before every step, so a closed stream frees it promptly.
            cancel.set()

    def _run(self, request: GenerationRequest, emit: Callable, cancel: threading.Event) -> None:
        try:
            with torch.inference_mode():
                for token in self._decode(request, cancel):
                    emit(token)
        except Exception as e:  # noqa: BLE001 - handed to the caller's stream
            emit(e)
        finally:
            emit(_END)

    def _decode(self, request: GenerationRequest, cancel: threading.Event) -> Iterator[int]:
        generator = torch.Generator(device=self.device)
        seed = request.seed if request.seed is not None else secrets.randbits(63)
        generator.manual_seed(seed)
        model = self._model
        cache = DynamicCache(config=model.config)
        input_ids = torch.tensor([list(request.prompt_token_ids)], device=self.device)
        for _ in range(request.max_tokens):
            if cancel.is_set():
                return
            if self._closed.is_set():
                raise TuneForgeError("unavailable", "The deployment was deleted while generating.")
            # logits_to_keep=1: the prefill needs the last position's logits only.
            out = model(input_ids=input_ids, cache=cache, use_cache=True, logits_to_keep=1)
            token = sample_token(out.logits[0, -1], request.temperature, request.top_p, generator)
            yield token
            if token in request.stop_token_ids:
                return
            input_ids = torch.tensor([[token]], device=self.device)

    async def close(self) -> None:
        self._closed.set()
        # Waits for the step in progress; queued requests then see `_closed` and end at once.
        await asyncio.to_thread(self._worker.shutdown, wait=True)
        self._model = None
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        log.info("unloaded %s", self.model_dir)
