"""How generation results leave the gateway: SSE streams, and JSON bodies whose generation
stops when the client goes away."""

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from fastapi import Request
from fastapi.responses import Response
from sse_starlette import EventSourceResponse

T = TypeVar("T")
CLIENT_CLOSED = 499  # nginx's status for a request whose client went away; nobody reads it


def sse(payloads: AsyncIterator[str]) -> EventSourceResponse:
    """Server-sent events, each sent as soon as it is produced; the client leaving stops them."""
    async def events():
        async for p in payloads:
            yield {"data": p}

    # Pings keep idle proxies from closing a long generation; clients ignore comment lines.
    return EventSourceResponse(events(), ping=15)


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T | Response:
    """The result of `work`, or, when the client disconnects first, `work` cancelled at once
    (which cancels the call to the replica, and so the generation)."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnect(request))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        raise
    finally:
        watcher.cancel()
    if task in done:
        return task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return Response(status_code=CLIENT_CLOSED)  # the client is gone; nobody reads this


async def _disconnect(request: Request) -> None:
    # The body has been read already, so the next message can only be the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass
