"""Webhooks fed by NATS events: signed per Standard Webhooks, only to the event's project,
retried with backoff, and still delivered after a gateway restart."""

import asyncio
import base64
import hashlib
import hmac
import json
import time

from services.common.events import DatasetValidated, EventBus
from tests.integration.gateway_stack import gateway

ADMIN = "tf-admin-webhooks"


class Receiver:
    """A bare HTTP endpoint on a free port that answers with the statuses it is given."""

    def __init__(self, statuses: list[int]):
        self.statuses, self.received = statuses, asyncio.Queue()

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hook"
        return self

    async def __aexit__(self, *exc):
        self.server.close()

    async def _serve(self, reader, writer):
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        headers = dict(line.split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)
        headers = {k.lower(): v for k, v in headers.items()}
        body = await reader.readexactly(int(headers.get("content-length", 0)))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        await self.received.put((status, headers, body))
        writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode())
        await writer.drain()
        writer.close()


def verify(secret: str, headers: dict, body: bytes, tolerance_s: int = 300) -> bool:
    """Written from the Standard Webhooks spec, independently of the gateway's code."""
    ts = int(headers["webhook-timestamp"])
    if abs(time.time() - ts) > tolerance_s:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = headers["webhook-id"].encode() + b"." + str(ts).encode() + b"." + body
    want = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return any(s.startswith("v1,") and hmac.compare_digest(s[3:], want)
               for s in headers["webhook-signature"].split())


def settings(event_prefix: str) -> dict:
    return dict(admin_key=ADMIN, events_stream=f"S{event_prefix}", webhook_poll_s=0.05,
                webhook_retry_base_s=0.1)


async def project_key(c, project: str) -> dict:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    await c.post("/v1/admin/projects", json={"id": project}, headers=admin)
    key = (await c.post("/v1/admin/keys", json={"project_id": project}, headers=admin)).json()
    return {"Authorization": f"Bearer {key['key']}"}


async def publish_validated(nats_url: str, prefix: str, file_id: str,
                            project: str = "default") -> None:
    """As the dataset service publishes it; `project` is the one of the request that raised it
    (the default project's events are attributed by the gateway's ownership records)."""
    bus = await EventBus(nats_url, f"S{prefix}", prefix).connect()
    await bus.publish(DatasetValidated(file_id=file_id, filename="a.jsonl", sha256="0" * 64,
                                       num_examples=3, num_warnings=0, project=project))
    await bus.close()


async def setup_project(c, receiver_url: str) -> tuple[dict, str, str]:
    """(key of team-a, its webhook's secret, a file it owns)."""
    a = await project_key(c, "team-a")
    hook = (await c.post("/v1/webhooks", headers=a, json={
        "url": receiver_url, "event_types": ["dataset.file.validated"]})).json()
    file_id = (await c.post("/v1/files", headers=a, data={"purpose": "fine-tune"},
                            files={"file": ("a.jsonl", b"{}\n")})).json()["id"]
    return a, hook["secret"], file_id


async def test_event_of_a_project_reaches_its_webhook_signed(nats_url, event_prefix,
                                                             database_url):
    async with Receiver([200]) as rx, gateway(nats_url, event_prefix, database_url,
                                              **settings(event_prefix)) as (c, _):
        a, secret, file_id = await setup_project(c, rx.url)
        b = await project_key(c, "team-b")
        other = Receiver([200])
        async with other:
            await c.post("/v1/webhooks", headers=b, json={"url": other.url,
                                                          "event_types": ["*"]})
            await publish_validated(nats_url, event_prefix, file_id)
            status, headers, body = await asyncio.wait_for(rx.received.get(), 10)
            await asyncio.sleep(0.3)
            assert other.received.empty()  # team-b never hears of team-a's file

    assert verify(secret, headers, body)
    assert not verify(secret, headers, body.replace(b"a.jsonl", b"b.jsonl"))
    assert b'"type": "dataset.file.validated"' in body and file_id.encode() in body


async def test_event_raised_in_a_projects_request_reaches_that_projects_webhook(
        nats_url, event_prefix, database_url):
    async with Receiver([200]) as rx, Receiver([200]) as other, gateway(
            nats_url, event_prefix, database_url, **settings(event_prefix)) as (c, _):
        a = await project_key(c, "team-a")
        await c.post("/v1/webhooks", headers=a, json={"url": rx.url, "event_types": ["*"]})
        b = await project_key(c, "team-b")
        await c.post("/v1/webhooks", headers=b, json={"url": other.url, "event_types": ["*"]})
        # A file the gateway has no record of yet: the subject's project decides.
        await publish_validated(nats_url, event_prefix, "file-unrecorded", project="team-a")
        status, headers, body = await asyncio.wait_for(rx.received.get(), 10)
        await asyncio.sleep(0.3)
        assert other.received.empty()

    event = json.loads(body)
    assert (event["type"], event["data"]["project"]) == ("dataset.file.validated", "team-a")


async def test_failed_delivery_is_retried_and_its_outcome_logged(nats_url, event_prefix,
                                                                 database_url):
    async with Receiver([500, 200]) as rx, gateway(nats_url, event_prefix, database_url,
                                                   **settings(event_prefix)) as (c, _):
        a, secret, file_id = await setup_project(c, rx.url)
        await publish_validated(nats_url, event_prefix, file_id)
        first = await asyncio.wait_for(rx.received.get(), 10)
        second = await asyncio.wait_for(rx.received.get(), 10)
        await asyncio.sleep(0.2)
        hook_id = (await c.get("/v1/webhooks", headers=a)).json()["data"][0]["id"]
        deliveries = (await c.get(f"/v1/webhooks/{hook_id}/deliveries", headers=a)).json()

    assert (first[0], second[0]) == (500, 200)
    assert first[1]["webhook-id"] == second[1]["webhook-id"]  # one message, two attempts
    d = deliveries["data"][0]
    assert (d["status"], d["attempts"], d["last_status_code"]) == ("delivered", 2, 200)


async def test_pending_delivery_survives_a_gateway_restart(nats_url, event_prefix,
                                                           database_url):
    async with Receiver([503]) as down:
        async with gateway(nats_url, event_prefix, database_url,
                           **settings(event_prefix)) as (c, _):
            a, secret, file_id = await setup_project(c, down.url)
            await publish_validated(nats_url, event_prefix, file_id)
            await asyncio.wait_for(down.received.get(), 10)
        # the gateway is gone; the endpoint comes back on the same address
        port = int(down.url.split(":")[2].split("/")[0])
    up = Receiver([200])
    up.server = await asyncio.start_server(up._serve, "127.0.0.1", port)
    try:
        async with gateway(nats_url, event_prefix, database_url, **settings(event_prefix)):
            status, headers, body = await asyncio.wait_for(up.received.get(), 10)
    finally:
        up.server.close()

    assert status == 200 and verify(secret, headers, body)


async def test_webhook_with_unknown_event_type_is_400_naming_it(nats_url, event_prefix,
                                                                database_url):
    async with gateway(nats_url, event_prefix, database_url, **settings(event_prefix)) as (c, _):
        a = await project_key(c, "team-a")
        r = await c.post("/v1/webhooks", headers=a, json={"url": "http://127.0.0.1:9/x",
                                                          "event_types": ["job.done"]})

    assert r.status_code == 400 and r.json()["error"]["param"] == "event_types"
    assert "'job.done'" in r.json()["error"]["message"]
