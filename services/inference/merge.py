"""Items of several async streams as they arrive, as one stream."""

import asyncio
from contextlib import aclosing
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


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

    if len(streams) == 1:  # the common case needs no tasks, and a hop less per token
        async with aclosing(streams[0]) as only:
            async for item in only:
                yield item
        return
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
