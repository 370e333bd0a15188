"""Several copies of one engine behind the Engine interface, balanced by outstanding requests."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

from transformers import PreTrainedTokenizerBase

from services.inference.engines.base import Engine, GenerationRequest, SampledToken


class ReplicaSet(Engine):
    """Sends each request to the replica with the fewest requests in flight."""

    def __init__(self, replicas: list[Engine]):
        if not replicas:
            raise ValueError("a replica set needs at least one engine")
        self.replicas = replicas
        self._in_flight = [0] * len(replicas)

    async def load(self) -> None:
        results = await asyncio.gather(*(r.load() for r in self.replicas),
                                       return_exceptions=True)
        if errors := [r for r in results if isinstance(r, BaseException)]:
            await self.close()
            raise errors[0]

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        return self.replicas[0].tokenizer

    @property
    def context_length(self) -> int:
        return self.replicas[0].context_length

    @property
    def stop_token_ids(self) -> frozenset[int]:
        return self.replicas[0].stop_token_ids

    @property
    def outstanding(self) -> int:
        return sum(self._in_flight)

    async def generate(self, request: GenerationRequest) -> AsyncIterator[SampledToken]:
        index = min(range(len(self.replicas)), key=self._in_flight.__getitem__)
        self._in_flight[index] += 1
        try:
            async with aclosing(self.replicas[index].generate(request)) as tokens:
                async for token in tokens:
                    yield token
        finally:
            self._in_flight[index] -= 1

    async def close(self) -> None:
        await asyncio.gather(*(r.close() for r in self.replicas), return_exceptions=True)
