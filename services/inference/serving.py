"""Chat and text completions: prompt tokens, context checks, n streamed choices, usage."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing

import jinja2

from services.common.chat import ChatMessage, tokenize_prompt
from services.common.errors import TuneForgeError, invalid
from services.inference.engines import GenerationRequest, SampledToken, Target
from services.inference.merge import merge
from services.inference.protocol import (
    Chunk,
    SamplingParams,
    TokenLogprob,
    Usage,
    validate_messages,
)
from services.inference.text import TextStream, TokenText

log = logging.getLogger(__name__)

TargetLookup = Callable[[str], Awaitable[Target]]


def completion_budget(context_length: int, prompt_tokens: int, max_tokens: int | None,
                      default_max_tokens: int, what: str = "messages") -> int:
    """Tokens the completion may take; context_length_exceeded when the request cannot fit."""
    limit = f"This model's maximum context length is {context_length} tokens. However, "
    if prompt_tokens > context_length:
        raise TuneForgeError(
            "context_length_exceeded",
            limit + f"your {what} resulted in {prompt_tokens} tokens, "
            f"{prompt_tokens - context_length} more than the limit. "
            f"Please reduce the length of the {what}.", what)
    if prompt_tokens == context_length:
        raise TuneForgeError(
            "context_length_exceeded",
            limit + f"your {what} resulted in {prompt_tokens} tokens, which leaves no room "
            f"for the completion. Please reduce the length of the {what}.", what)
    if max_tokens is None:
        return min(default_max_tokens, context_length - prompt_tokens)
    requested = prompt_tokens + max_tokens
    if requested > context_length:
        # As vLLM and OpenAI do: an explicit max_tokens that does not fit is an error, not clipped.
        raise TuneForgeError(
            "context_length_exceeded",
            limit + f"you requested {requested} tokens ({prompt_tokens} in the {what}, "
            f"{max_tokens} in the completion), {requested - context_length} more than the limit. "
            f"Please reduce the length of the {what} or max_tokens.", "max_tokens")
    return max_tokens


class CompletionServing:
    """Completions from whichever engine (and adapter) serves the requested model."""

    def __init__(self, targets: TargetLookup, default_max_tokens: int, max_n: int):
        self.targets = targets
        self.default_max_tokens = default_max_tokens
        self.max_n = max_n

    async def chat(self, model: str, messages: Sequence[ChatMessage],
                   params: SamplingParams) -> AsyncIterator[Chunk]:
        """Text deltas of every choice, a finish chunk per choice, then one chunk of usage."""
        _require_model(model)
        validate_messages(messages)
        params.validate(self.max_n)
        target = await self.targets(model)
        prompt = await asyncio.to_thread(_render, target, messages)
        async with aclosing(self._generate(model, target, prompt, params, "messages")) as chunks:
            async for chunk in chunks:
                yield chunk

    async def complete(self, model: str, prompt: str | Sequence[int], params: SamplingParams,
                       echo: bool = False) -> AsyncIterator[Chunk]:
        """The same stream for a raw prompt (text or token ids), optionally echoed first."""
        _require_model(model)
        params.validate(self.max_n)
        if not prompt:
            raise invalid("prompt must not be empty.", "prompt")
        target = await self.targets(model)
        tokenizer = target.engine.tokenizer
        if isinstance(prompt, str):
            ids = await asyncio.to_thread(lambda: tokenizer(prompt)["input_ids"])
        else:
            ids = list(prompt)
            bad = next((i for i, t in enumerate(ids) if not 0 <= t < len(tokenizer)), None)
            if bad is not None:
                raise invalid(f"prompt[{bad}] is {ids[bad]}, not a token id of this model "
                              f"(0 to {len(tokenizer) - 1}).", "prompt")
        head = (prompt if isinstance(prompt, str) else tokenizer.decode(ids)) if echo else ""
        async with aclosing(self._generate(model, target, ids, params, "prompt", head)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def _generate(self, model: str, target: Target, prompt: list[int],
                        params: SamplingParams, what: str,
                        echo: str = "") -> AsyncIterator[Chunk]:
        budget = completion_budget(target.engine.context_length, len(prompt), params.max_tokens,
                                   self.default_max_tokens, what)
        tally = [0] * params.n  # tokens sampled per choice, filled in as they stream
        choices = [self._choice(target, i, prompt, budget, params, tally, echo)
                   for i in range(params.n)]
        # aclosing: a caller that stops reading stops the choices now, not when collected.
        async with aclosing(merge(choices)) as chunks:
            async for chunk in chunks:
                yield chunk
        usage = Usage(prompt_tokens=len(prompt), completion_tokens=sum(tally))
        log.info("completed %s: %d choices, %d prompt and %d completion tokens", model,
                 params.n, usage.prompt_tokens, usage.completion_tokens)
        yield Chunk(usage=usage)

    async def _choice(self, target: Target, index: int, prompt: list[int], budget: int,
                      params: SamplingParams, tally: list[int],
                      echo: str) -> AsyncIterator[Chunk]:
        engine = target.engine
        # Choice i samples with seed + i, as vLLM does: choices differ, and repeat per seed.
        seed = None if params.seed is None else params.seed + index
        top_k = max(params.top_k, 0)
        request = GenerationRequest(
            prompt, budget, params.temperature, params.top_p, seed, engine.stop_token_ids,
            top_k, params.presence_penalty, params.frequency_penalty, params.logprobs,
            target.adapter)
        text = TextStream(engine.tokenizer, prompt, params.stop)
        token_text = TokenText(engine.tokenizer) if params.logprobs is not None else None
        logprobs: list[TokenLogprob] = []
        stop_token = False
        if echo:
            yield Chunk(index, echo)
        async with aclosing(engine.generate(request)) as tokens:
            async for token in tokens:
                tally[index] += 1
                if token.id in request.stop_token_ids:
                    stop_token = True
                    break
                if token_text is not None and token.logprob is not None:
                    logprobs.append(_logprob(token_text, token))
                if delta := text.push(token.id):
                    yield Chunk(index, delta, logprobs=tuple(logprobs))
                    logprobs = []
                if text.stopped:
                    break
        rest = text.finish()
        if rest or logprobs:
            yield Chunk(index, rest, logprobs=tuple(logprobs))
        yield Chunk(index, finish_reason="stop" if stop_token or text.stopped else "length")


def _require_model(model: str) -> None:
    if not model:
        raise invalid("model is required.", "model")


def _render(target: Target, messages: Sequence[ChatMessage]) -> list[int]:
    try:
        return tokenize_prompt(target.engine.tokenizer, messages)
    except jinja2.TemplateError as e:
        raise invalid(f"The model's chat template rejected the messages: {e}", "messages") from e


def _logprob(token_text: TokenText, token: SampledToken) -> TokenLogprob:
    top = []
    for token_id, logprob in token.top_logprobs:
        text, raw = token_text(token_id)
        top.append((text, logprob, raw))
    text, raw = token_text(token.id)
    return TokenLogprob(text, token.logprob, raw, tuple(top))
