"""The SSE response of generations: what it writes, and what a client leaving stops."""

import asyncio

from gateway.api.chat.responses import EventStream, event


class Client:
    """The server side of one HTTP exchange: what was sent, and a way to hang up."""

    def __init__(self):
        self.sent: list[dict] = []
        self.gone = asyncio.Event()

    async def receive(self) -> dict:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


async def run(stream: EventStream, client: Client) -> None:
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions"}
    await stream(scope, client.receive, client.send)


async def test_each_piece_is_one_write_and_done_ends_the_body():
    async def events():
        yield event(b'{"a":1}') + event(b'{"b":2}')
        yield event("{}")

    client = Client()
    await run(EventStream(events()), client)

    start, *body = client.sent
    assert start["status"] == 200
    assert dict(start["headers"])[b"content-type"] == b"text/event-stream; charset=utf-8"
    assert [m["body"] for m in body] == [b'data: {"a":1}\r\n\r\ndata: {"b":2}\r\n\r\n',
                                         b"data: {}\r\n\r\n", b"data: [DONE]\r\n\r\n"]
    assert [m["more_body"] for m in body] == [True, True, False]


async def test_a_client_that_leaves_stops_the_producer_and_the_response_ends_quietly():
    produced, closed = asyncio.Event(), asyncio.Event()

    async def events():
        try:
            yield event("{}")
            produced.set()
            await asyncio.Event().wait()  # a generation that would run on for ever
        finally:
            closed.set()

    client = Client()
    response = asyncio.create_task(run(EventStream(events()), client))
    await asyncio.wait_for(produced.wait(), 5)
    client.gone.set()

    done, _ = await asyncio.wait({response}, timeout=5)

    assert response in done and response.exception() is None  # ended, not cancelled
    assert closed.is_set()
    assert b"[DONE]" not in client.body()


async def test_an_idle_stream_sends_comment_pings_between_events():
    release = asyncio.Event()

    async def events():
        await release.wait()
        yield event("{}")

    client = Client()
    response = asyncio.create_task(run(EventStream(events(), ping_s=0.05), client))
    await asyncio.sleep(0.3)
    release.set()
    await asyncio.wait_for(response, 5)

    body = client.body()
    assert body.startswith(b": ping - ") and body.endswith(b"data: {}\r\n\r\ndata: [DONE]\r\n\r\n")


async def test_a_server_cancelling_the_stream_is_not_swallowed():
    async def events():
        await asyncio.Event().wait()
        yield event("{}")

    response = asyncio.create_task(run(EventStream(events()), Client()))
    await asyncio.sleep(0.05)
    response.cancel()

    try:
        await response
    except asyncio.CancelledError:
        pass
    assert response.cancelled()
