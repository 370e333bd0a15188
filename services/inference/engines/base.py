"""The `Engine` interface: serving code depends on it, never on a concrete backend."""

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from transformers import PreTrainedTokenizerBase


@dataclass(frozen=True)
class Adapter:
    """A LoRA adapter of the engine's base model, in a local folder (adapter_config.json)."""

    name: str  # the registered model name clients send
    path: Path
    rank: int = 0  # its LoRA rank; 0 when unknown


@dataclass(frozen=True)
class EngineSpec:
    """What to load: the model's folder and how to serve it."""

    backend: str
    model_dir: Path
    max_concurrent_requests: int = 32  # sequences decoded together; more wait their turn
    max_context: int = 0  # 0: the model's own context length
    max_loras: int = 8  # adapters held at once, least recently used evicted
    max_lora_rank: int = 0  # 0: the highest rank among the adapters known at load
    chat_template: str = ""  # the registry's pinned template; empty: the tokenizer's own
    stop_token_ids: frozenset[int] = frozenset()  # the registry's; empty: from the folder
    device: str = "auto"  # torch device, e.g. cuda:1 for the second replica's GPU
    gpus: tuple[int, ...] = ()  # CUDA devices of this replica (vLLM shards over them)


@dataclass(frozen=True)
class GenerationRequest:
    """One sequence to generate; the engine ends it at a stop token or after max_tokens."""

    prompt_token_ids: Sequence[int]
    max_tokens: int
    temperature: float = 1.0  # 0 means greedy
    top_p: float = 1.0
    seed: int | None = None  # None: a fresh random seed
    stop_token_ids: frozenset[int] = frozenset()
    top_k: int = 0  # 0 keeps every token
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logprobs: int | None = None  # None: none; k >= 0: the sampled token's and the top k's
    adapter: Adapter | None = None  # None: the base model


@dataclass(frozen=True)
class SampledToken:
    """A generated token id, with its log-probability when the request asked for logprobs."""

    id: int
    logprob: float | None = None
    top_logprobs: tuple[tuple[int, float], ...] = ()  # (id, logprob), most likely first


class Engine(ABC):
    """A loaded model that turns generation requests into streams of sampled tokens.

    Each stream is independent, so a continuous-batching engine serves them in one batch and a
    sequential one in turns, without their callers knowing which.
    """

    @abstractmethod
    async def load(self) -> None:
        """Load tokenizer and weights, without blocking the event loop."""

    @property
    @abstractmethod
    def tokenizer(self) -> PreTrainedTokenizerBase:
        """The model's tokenizer, with its chat template."""

    @property
    @abstractmethod
    def context_length(self) -> int:
        """Most tokens (prompt plus completion) one sequence may hold."""

    @property
    @abstractmethod
    def stop_token_ids(self) -> frozenset[int]:
        """Token ids that end a reply: the model's eos ids and <|im_end|>."""

    @property
    def outstanding(self) -> int:
        """Requests being generated or waiting; replicas are balanced on it."""
        return 0

    @abstractmethod
    def generate(self, request: GenerationRequest) -> AsyncIterator[SampledToken]:
        """Yield sampled tokens, a final stop token included; closing the stream stops it."""

    @abstractmethod
    async def close(self) -> None:
        """Stop every generation and free the model's memory."""


@dataclass(frozen=True)
class Target:
    """Where a model name is served: an engine, and the adapter to apply on it (if any)."""

    engine: Engine
    adapter: Adapter | None = None
