"""An engine on Hugging Face transformers, continuously batching requests over a KV cache."""

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
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
from services.inference.engines.adapters import AdapterSet
from services.inference.engines.base import Engine, EngineSpec, GenerationRequest, SampledToken
from services.inference.engines.scheduler import END, Scheduler

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """`auto` is the first CUDA device when there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class TransformersEngine(Engine):
    """A causal LM from a local folder, fp32 on CPU and bf16 on CUDA, with LoRA adapters."""

    def __init__(self, spec: EngineSpec):
        self.spec = spec
        self.model_dir = Path(spec.model_dir)
        self.device = resolve_device(spec.device)
        self._model: PreTrainedModel | None = None
        self._adapters: AdapterSet | None = None
        self._scheduler: Scheduler | None = None
        self._tokenizer: PreTrainedTokenizerBase | None = None
        self._context_length = 0
        self._stop_ids: frozenset[int] = frozenset()

    async def load(self) -> None:
        await asyncio.to_thread(self._load)

    def _load(self) -> None:
        tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        if self.spec.chat_template:  # the registry's pinned template wins over the folder's
            tokenizer.chat_template = self.spec.chat_template
        dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=dtype)
        context = getattr(model.config, "max_position_embeddings", None)
        if not context:
            raise ValueError(f"{self.model_dir}/config.json sets no max_position_embeddings")
        if self.spec.max_context:
            context = min(context, self.spec.max_context)
        self._model = model.to(self.device).eval()
        self._tokenizer, self._context_length = tokenizer, int(context)
        self._stop_ids = frozenset(self.spec.stop_token_ids
                                   or stop_token_ids(tokenizer, self.model_dir))
        self._adapters = AdapterSet(self._model, self.spec.max_loras)
        self._scheduler = Scheduler(self._forward, self.device, self.spec.max_concurrent_requests,
                                    self._adapters.prepare, name=f"engine-{self.model_dir.name}")
        log.info("loaded %s on %s (%s, context %d, batch %d)", self.model_dir, self.device, dtype,
                 context, self.spec.max_concurrent_requests)

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor,
                 cache: DynamicCache, adapters: list[str | None]) -> torch.Tensor:
        # logits_to_keep=1: sampling needs the last position of each row only.
        out = self._adapters.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                   cache=cache, use_cache=True, logits_to_keep=1,
                                   **self._adapters.forward_kwargs(adapters))
        return out.logits[:, -1]

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
        return self._scheduler.outstanding if self._scheduler else 0

    async def generate(self, request: GenerationRequest) -> AsyncIterator[SampledToken]:
        if self._scheduler is None:
            raise TuneForgeError("unavailable", "The model is not loaded in this deployment.")
        loop = asyncio.get_running_loop()
        items: asyncio.Queue = asyncio.Queue()

        def emit(item) -> None:
            try:
                loop.call_soon_threadsafe(items.put_nowait, item)
            except RuntimeError:  # the event loop is gone: nobody is listening any more
                seq.cancelled = True

        seq = self._scheduler.submit(request, emit)
        try:
            while (item := await items.get()) is not END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            # The scheduler drops cancelled sequences before its next step: the slot frees now.
            seq.cancelled = True

    async def close(self) -> None:
        if self._scheduler is not None:
            # Waits for the step in progress; every request in flight then ends with an error.
            await asyncio.to_thread(self._scheduler.close)
        self._scheduler = self._model = self._adapters = None
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        log.info("unloaded %s", self.model_dir)
