"""Wire types of /v1/completions (OpenAI's legacy text completions)."""

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.api.chat.sampling import SamplingFields, Usage
from gateway.api.common import Int32
from services.common.errors import invalid
from services.common.ids import new_id

DEFAULT_MAX_TOKENS = 16  # OpenAI's and vLLM's default for this endpoint


class CompletionRequest(SamplingFields):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(description="A deployed model's name, or an adapter of a deployed base.")
    prompt: str | list[str] | list[Int32] | list[list[Int32]] = Field(
        description="Text or token ids to continue; one prompt per request.")
    max_tokens: Int32 | None = Field(default=DEFAULT_MAX_TOKENS, ge=1,
                                   description="Most tokens to generate (default 16).")
    logprobs: int | None = Field(default=None, ge=0, le=20,
                                 description="Log-probabilities of the k most likely tokens.")
    echo: bool = Field(default=False, description="Return the prompt before the completion.")
    suffix: str | None = Field(default=None, description="Not supported; must be empty.")

    def single_prompt(self) -> str | list[int]:
        """The one prompt, as text or token ids; invalid_argument for batches or a suffix."""
        if self.suffix:
            raise invalid("suffix is not supported by this server.", "suffix")
        p = self.prompt
        if isinstance(p, list) and p and isinstance(p[0], (str, list)):
            if len(p) != 1:
                raise invalid(f"prompt holds {len(p)} prompts; this server takes one prompt per "
                              "request. Send one request per prompt.", "prompt")
            p = p[0]
        if not p:
            raise invalid("prompt must not be empty.", "prompt")
        return p


class CompletionLogprobs(BaseModel):
    tokens: list[str] = Field(default_factory=list)
    token_logprobs: list[float] = Field(default_factory=list)
    top_logprobs: list[dict[str, float]] = Field(default_factory=list)
    text_offset: list[int] = Field(default_factory=list)


class CompletionChoice(BaseModel):
    index: int
    text: str
    finish_reason: str | None = None
    logprobs: CompletionLogprobs | None = None


class Completion(BaseModel):
    id: str = Field(default_factory=lambda: new_id("cmpl"))
    object: Literal["text_completion"] = "text_completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
