"""Completions, counted: a stand-in for CompletionServing that feeds InferenceMetrics."""

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing

from services.common.chat import ChatMessage
from services.common.metrics import InferenceMetrics
from services.inference.protocol import Chunk, SamplingParams
from services.inference.serving import CompletionServing


class MeteredServing:
    """Same calls as CompletionServing; times the first chunk, counts tokens and running
    streams by the model the request named.

    A stream is labelled only once its first chunk is out, so a request for a model that
    does not exist adds no series.
    """

    def __init__(self, serving: CompletionServing, metrics: InferenceMetrics):
        self.serving, self.metrics = serving, metrics

    def chat(self, model: str, messages: Sequence[ChatMessage],
             params: SamplingParams) -> AsyncIterator[Chunk]:
        return self._metered(model, self.serving.chat(model, messages, params), ttft=True)

    def complete(self, model: str, prompt: str | Sequence[int], params: SamplingParams,
                 echo: bool = False) -> AsyncIterator[Chunk]:
        # An echoed prompt comes out before any token is generated: no time to first token.
        return self._metered(model, self.serving.complete(model, prompt, params, echo),
                             ttft=not echo)

    async def _metered(self, model: str, stream: AsyncIterator[Chunk],
                       ttft: bool) -> AsyncIterator[Chunk]:
        m, start, running = self.metrics, time.perf_counter(), None
        try:
            async with aclosing(stream) as chunks:
                async for chunk in chunks:
                    if running is None:
                        running = m.running.labels(model)
                        running.inc()
                        if ttft:
                            m.ttft.labels(model).observe(time.perf_counter() - start)
                    if chunk.usage is not None:
                        m.prompt_tokens.labels(model).inc(chunk.usage.prompt_tokens)
                        m.generated_tokens.labels(model).inc(chunk.usage.completion_tokens)
                    yield chunk
        finally:
            if running is not None:
                running.dec()
