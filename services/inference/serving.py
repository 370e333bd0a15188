"""Chat completions: the prompt from the chat template, context checks, n streamed choices."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import TypeVar

import jinja2

from services.common.chat import ChatMessage, tokenize_prompt
from services.common.errors import TuneForgeError, invalid
from services.inference.engines import Engine, GenerationRequest
from services.inference.protocol import Chunk, SamplingParams, Usage, validate_messages
from services.inference.text import TextStream

log = logging.getLogger(__name__)

EngineLookup = Callable[[str], Awaitable[Engine]]
T = TypeVar("T")


def completion_budget(context_length: int, prompt_tokens: int, max_tokens: int | None,
                      default_max_tokens: int) -> int:
    """Tokens the completion may take; context_length_exceeded when the request cannot fit."""
    limit = f"This model's maximum context length is {context_length} tokens. However, "
    if prompt_tokens > context_length:
        raise TuneForgeError(
            "context_length_exceeded",
            limit + f"your messages resulted in {prompt_tokens} tokens, "
            f"{prompt_tokens - context_length} more than the limit. "
            "Please reduce the length of the messages.", "messages")
    if prompt_tokens == context_length:
        raise TuneForgeError(
            "context_length_exceeded",
            limit + f"your messages resulted in {prompt_tokens} tokens, which leaves no room "
            "for the completion. Please reduce the length of the messages.", "messages")
    if max_tokens is None:
        return min(default_max_tokens, context_length - prompt_tokens)
    requested = prompt_tokens + max_tokens
    if requested > context_length:
        # As vLLM and OpenAI do: an explicit max_tokens that does not fit is an error, not clipped.
        raise TuneForgeError(
            "context_length_exceeded",
            limit + f"you requested {requested} tokens ({prompt_tokens} in the messages, "
            f"{max_tokens} in the completion), {requested - context_length} more than the limit. "
            "Please reduce the length of the messages or max_tokens.", "max_tokens")
    return max_tokens


class ChatServing:
    """Chat completions from whichever engine serves the requested model."""

    def __init__(self, engines: EngineLookup, default_max_tokens: int, max_n: int):
        self.engines = engines
        self.default_max_tokens = default_max_tokens
        self.max_n = max_n

    async def stream(self, model: str, messages: Sequence[ChatMessage],
                     params: SamplingParams) -> AsyncIterator[Chunk]:
        """Text deltas of every choice, a finish chunk per choice, then one chunk of usage."""
        if not model:
            raise invalid("model is required.", "model")
        validate_messages(messages)
        params.validate(self.max_n)
        engine = await self.engines(model)
        prompt = await asyncio.to_thread(_render, engine, messages)
        budget = completion_budget(engine.context_length, len(prompt), params.max_tokens,
                                   self.default_max_tokens)
        tally = [0] * params.n  # tokens sampled per choice, filled in as they stream
        choices = [self._choice(engine, i, prompt, budget, params, tally)
                   for i in range(params.n)]
        # aclosing: a caller that stops reading stops the choices now, not when collected.
        async with aclosing(merge(choices)) as chunks:
            async for chunk in chunks:
                yield chunk
        usage = Usage(prompt_tokens=len(prompt), completion_tokens=sum(tally))
        log.info("completed %s: %d choices, %d prompt and %d completion tokens", model,
                 params.n, usage.prompt_tokens, usage.completion_tokens)
        yield Chunk(usage=usage)

    async def _choice(self, engine: Engine, index: int, prompt: list[int], budget: int,
                      params: SamplingParams, tally: list[int]) -> AsyncIterator[Chunk]:
        # Choice i samples with seed + i, as vLLM does: choices differ, and repeat per seed.
        seed = None if params.seed is None else params.seed + index
        request = GenerationRequest(prompt, budget, params.temperature, params.top_p, seed,
                                    engine.stop_token_ids)
        text = TextStream(engine.tokenizer, prompt, params.stop)
        stop_token = False
        async with aclosing(engine.generate(request)) as tokens:
            async for token in tokens:
                tally[index] += 1
                if token in request.stop_token_ids:
                    stop_token = True
                    break
                if delta := text.push(token):
                    yield Chunk(index, delta)
                if text.stopped:
                    break
        if rest := text.finish():
            yield Chunk(index, rest)
        yield Chunk(index, finish_reason="stop" if stop_token or text.stopped else "length")


def _render(engine: Engine, messages: Sequence[ChatMessage]) -> list[int]:
    try:
        return tokenize_prompt(engine.tokenizer, messages)
    except jinja2.TemplateError as e:
        raise invalid(f"The model's chat template rejected the messages: {e}", "messages") from e


@dataclass(frozen=True)
class _Failure:
    error: Exception


_END = object()


async def merge(streams: Sequence[AsyncIterator[T]]) -> AsyncIterator[T]:
    """Items of several streams as they arrive; the first failure ends all of them."""
    queue: asyncio.Queue = asyncio.Queue()

    async def pump(stream: AsyncIterator[T]) -> None:
        try:
            async for item in stream:
                queue.put_nowait(item)
        except Exception as e:  # noqa: BLE001 - re-raised by the consumer below
            queue.put_nowait(_Failure(e))
        finally:
            queue.put_nowait(_END)

    tasks = [asyncio.create_task(pump(s)) for s in streams]
    try:
        ended = 0
        while ended < len(tasks):
            item = await queue.get()
            if item is _END:
                ended += 1
            elif isinstance(item, _Failure):
                raise item.error
            else:
                yield item
    finally:
        # Cancelling a pump closes its stream, which stops that choice's generation.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
