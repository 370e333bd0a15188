"""Domain types of chat completions, validated here so every bad input names its parameter."""

from collections.abc import Sequence
from dataclasses import dataclass

from services.common.chat import ChatMessage
from services.common.errors import invalid

ROLES = ("system", "user", "assistant")
MAX_LOGPROBS = 20  # as OpenAI allows


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int | None = None  # None: the service's default, clipped to the context
    temperature: float = 1.0  # 0 is greedy
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    n: int = 1
    top_k: int = 0  # 0 (or -1, as vLLM spells it): every token
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logprobs: int | None = None  # None: none; k: each token's logprob and the k most likely

    def validate(self, max_n: int) -> None:
        """Raise invalid_argument naming the first parameter out of range."""
        if self.max_tokens is not None and self.max_tokens < 1:
            raise invalid(f"max_tokens must be at least 1, not {self.max_tokens}.", "max_tokens")
        if not 0 <= self.temperature <= 2:
            raise invalid(f"temperature must be between 0 and 2, not {self.temperature}.",
                          "temperature")
        if not 0 < self.top_p <= 1:
            raise invalid(f"top_p must be greater than 0 and at most 1, not {self.top_p}.",
                          "top_p")
        if not 1 <= self.n <= max_n:
            raise invalid(f"n must be between 1 and {max_n}, not {self.n}.", "n")
        if self.top_k < -1:
            raise invalid(f"top_k must be -1, 0 (no limit) or positive, not {self.top_k}.",
                          "top_k")
        for name in ("presence_penalty", "frequency_penalty"):
            if not -2 <= getattr(self, name) <= 2:
                raise invalid(f"{name} must be between -2 and 2, not {getattr(self, name)}.",
                              name)
        if self.logprobs is not None and not 0 <= self.logprobs <= MAX_LOGPROBS:
            raise invalid(f"logprobs must be between 0 and {MAX_LOGPROBS}, "
                          f"not {self.logprobs}.", "logprobs")


def validate_messages(messages: Sequence[ChatMessage]) -> None:
    """Raise invalid_argument naming the first message that cannot be rendered."""
    if not messages:
        raise invalid("messages must hold at least one message.", "messages")
    for i, m in enumerate(messages):
        if m["role"] not in ROLES:
            raise invalid(f"messages[{i}].role must be one of {', '.join(ROLES)}, "
                          f"not '{m['role']}'.", f"messages[{i}].role")


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int  # over all choices, each one's stop token included

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class TokenLogprob:
    """A generated token's text and log-probability, with the most likely alternatives."""

    token: str
    logprob: float
    bytes: bytes = b""
    top: tuple[tuple[str, float, bytes], ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A text delta of one choice, that choice's end (finish_reason), or the stream's usage."""

    index: int = 0
    text: str = ""
    finish_reason: str | None = None  # "stop" or "length" on a choice's last chunk
    usage: Usage | None = None  # on the stream's very last chunk only
    logprobs: tuple[TokenLogprob, ...] = ()  # the tokens behind `text`, when asked for
