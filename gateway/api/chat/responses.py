"""How generation results leave the gateway: SSE streams, and JSON bodies whose generation
stops when the client goes away."""

import asyncio
from collections.abc import AsyncGenerator, Awaitable
from datetime import UTC, datetime
from typing import TypeVar

from fastapi import Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

T = TypeVar("T")
CLIENT_CLOSED = 499  # nginx's status for a request whose client went away; nobody reads it
PING_S = 15.0  # keeps idle proxies from closing a long generation
DONE = b"data: [DONE]\r\n\r\n"


def event(payload: bytes | str) -> bytes:
    """One server-sent event carrying `payload` (JSON, so it holds no line breaks)."""
    return b"data: " + (payload if isinstance(payload, bytes) else payload.encode()) + b"\r\n\r\n"


class EventStream(Response):
    """OpenAI's server-sent events: each piece of `events` (one or more events, see `event`)
    sent as soon as it is produced, then [DONE].

    One watcher task per stream notices the client leaving, which cancels the stream (and so
    the call to the replica, and so the generation), and sends a comment line every `ping_s`,
    which clients ignore. Written for the gateway's hot path: sse-starlette
    runs four tasks, a lock and a timeout scope per stream, which showed in the gateway's
    latency over calling the inference service directly.
    """

    media_type = "text/event-stream"

    def __init__(self, events: AsyncGenerator[bytes, None], ping_s: float = PING_S):
        self.events, self.ping_s = events, ping_s
        self.status_code, self.background = 200, None
        # As sse-starlette sent them: no caching, and no buffering in nginx.
        self.init_headers({"Cache-Control": "no-store", "Connection": "keep-alive",
                           "X-Accel-Buffering": "no"})
        self._open, self._gone = True, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        watcher = asyncio.create_task(self._watch(receive, send, task))
        try:
            await self._write(send)
        except asyncio.CancelledError:
            # Our own cancellation on disconnect ends the response quietly; any other
            # (the server shutting down) goes on.
            if not self._gone or task.uncancel() > 0:
                raise
        finally:
            self._open = False
            watcher.cancel()
        if self.background is not None:
            await self.background()

    async def _write(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        try:
            async for piece in self.events:
                await send({"type": "http.response.body", "body": piece, "more_body": True})
        finally:
            # Runs the producers' clean-up (cancelling the replica's call) in this task.
            await self.events.aclose()
        self._open = False
        # [DONE] and the end of the body in one write.
        await send({"type": "http.response.body", "body": DONE, "more_body": False})

    async def _watch(self, receive: Receive, send: Send, task: asyncio.Task) -> None:
        while True:
            try:
                async with asyncio.timeout(self.ping_s):
                    message = await receive()
            except TimeoutError:
                if self._open:
                    await send({"type": "http.response.body", "more_body": True,
                                "body": f": ping - {datetime.now(UTC)}\r\n\r\n".encode()})
                continue
            if message["type"] == "http.disconnect":
                if self._open:
                    self._gone = True
                    task.cancel()
                return


def sse(events: AsyncGenerator[bytes, None]) -> EventStream:
    """Server-sent `events`, then [DONE]; the client leaving stops them."""
    return EventStream(events)


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
