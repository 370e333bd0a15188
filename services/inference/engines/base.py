"""The `Engine` interface: serving code depends on it, never on a concrete backend."""

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase


@dataclass(frozen=True)
class GenerationRequest:
    """One sequence to generate; the engine ends it at a stop token or after max_tokens."""

    prompt_token_ids: Sequence[int]
    max_tokens: int
    temperature: float = 1.0  # 0 means greedy
    top_p: float = 1.0
    seed: int | None = None  # None: a fresh random seed
    stop_token_ids: frozenset[int] = frozenset()


class Engine(ABC):
    """A loaded model that turns generation requests into streams of token ids.

    Requests may be served one at a time or batched; each stream is independent, so a
    continuous-batching engine can replace a sequential one without changing its callers.
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
        """Most tokens (prompt plus completion) the model attends over."""

    @property
    @abstractmethod
    def stop_token_ids(self) -> frozenset[int]:
        """Token ids that end a reply: the model's eos ids and <|im_end|>."""

    @abstractmethod
    def generate(self, request: GenerationRequest) -> AsyncIterator[int]:
        """Yield sampled token ids, a final stop token included; closing the stream stops it."""

    @abstractmethod
    async def close(self) -> None:
        """Stop every generation and free the model's memory."""
