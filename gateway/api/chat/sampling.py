"""Sampling parameters, usage and logprobs shared by /v1/chat/completions and /v1/completions."""

from pydantic import BaseModel, Field

from gateway.api.common import Int32, Int64

from services.common.errors import invalid
from tuneforge.v1 import inference_pb2 as pb


class StreamOptions(BaseModel):
    include_usage: bool = Field(default=False, description="Send a last chunk with usage.")


class SamplingFields(BaseModel):
    """OpenAI's sampling parameters, plus vLLM's top_k."""

    max_tokens: Int32 | None = Field(default=None, ge=1, description="Most tokens to generate.")
    temperature: float | None = Field(default=None, ge=0, le=2, description="0 is greedy.")
    top_p: float | None = Field(default=None, gt=0, le=1, description="Nucleus sampling.")
    top_k: Int32 | None = Field(default=None, ge=-1,
                              description="Sample among the k most likely; -1 or 0: all.")
    n: int = Field(default=1, ge=1, le=16, description="Choices to generate.")
    stop: str | list[str] | None = Field(default=None, description="Up to 4 stop strings.")
    seed: Int64 | None = Field(default=None, description="Makes sampling repeatable.")
    presence_penalty: float | None = Field(default=None, ge=-2, le=2,
                                           description="Penalise tokens already present.")
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2,
                                            description="Penalise tokens by their count so far.")
    stream: bool = Field(default=False, description="Send server-sent events.")
    stream_options: StreamOptions | None = Field(default=None, description="Stream settings.")

    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    def sampling_pb(self, max_tokens: int | None, logprobs: int | None) -> pb.SamplingParams:
        """The request's parameters as the inference service takes them."""
        stop = [] if self.stop is None else [self.stop] if isinstance(self.stop, str) \
            else list(self.stop)
        params = pb.SamplingParams(stop=stop, n=self.n, top_k=self.top_k or 0,
                                   presence_penalty=self.presence_penalty or 0.0,
                                   frequency_penalty=self.frequency_penalty or 0.0)
        if max_tokens is not None:
            params.max_tokens = max_tokens
        for name in ("temperature", "top_p", "seed"):
            if (value := getattr(self, name)) is not None:
                setattr(params, name, value)
        if logprobs is not None:
            params.logprobs = logprobs
        return params


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def from_pb(cls, u: pb.Usage) -> "Usage":
        return cls(prompt_tokens=u.prompt_tokens, completion_tokens=u.completion_tokens,
                   total_tokens=u.total_tokens)


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None = None


class ChatTokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob] = Field(default_factory=list)

    @classmethod
    def from_pb(cls, lp: pb.TokenLogprob) -> "ChatTokenLogprob":
        return cls(token=lp.token, logprob=lp.logprob, bytes=list(lp.bytes),
                   top_logprobs=[TopLogprob(token=t.token, logprob=t.logprob,
                                            bytes=list(t.bytes)) for t in lp.top_logprobs])


def usage_dict(u: pb.Usage) -> dict:
    """`Usage.from_pb(u)` as a plain dict, for stream frames serialised without models."""
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
            "total_tokens": u.total_tokens}


def logprob_dict(lp: pb.TokenLogprob) -> dict:
    """`ChatTokenLogprob.from_pb(lp)` as a plain dict, in the model's field order."""
    return {"token": lp.token, "logprob": lp.logprob, "bytes": list(lp.bytes),
            "top_logprobs": [{"token": t.token, "logprob": t.logprob, "bytes": list(t.bytes)}
                             for t in lp.top_logprobs]}


def check_stop(stop: str | list[str] | None) -> None:
    """OpenAI allows up to 4 stop strings."""
    if isinstance(stop, list) and len(stop) > 4:
        raise invalid(f"stop may hold at most 4 strings, not {len(stop)}.", "stop")
