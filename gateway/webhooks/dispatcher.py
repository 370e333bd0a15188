"""Feeds webhooks from the event stream and delivers them: signed, retried with backoff,
each outcome logged and stored.

A durable JetStream consumer turns each event into one pending delivery per interested
webhook of the event's project, and acknowledges the event only then; a worker sends due
deliveries. Both live in the database or the stream, so a restart loses none.

The event's project is the one its subject names (the project of the request that raised
it); for the default project's events, which include work of no project and events from
before projects, the gateway's ownership records decide, as they decide isolation.
"""

import asyncio
import json
import logging
import time
from contextlib import AsyncExitStack, suppress

import httpx
import nats
import tenacity

from gateway.auth.ownership import SHARED, Ownership
from gateway.settings import GatewaySettings
from gateway.webhooks import signing
from gateway.webhooks.store import DeliveryRow, WebhookStore
from services.common.context import DEFAULT_PROJECT
from services.common.events import ensure_stream, parse_subject

log = logging.getLogger("tuneforge.gateway.webhooks")
DURABLE = "gateway-webhooks"
_OWNED_BY_FIELD = (("file_id", "file"), ("job_id", "job"), ("deployment_id", "deployment"))


class Dispatcher:
    def __init__(self, store: WebhookStore, ownership: Ownership, http: httpx.AsyncClient,
                 settings: GatewaySettings):
        self.store, self.ownership, self.http, self.settings = store, ownership, http, settings
        self._wait = tenacity.wait_exponential(multiplier=settings.webhook_retry_base_s,
                                               max=3600)

    async def project_of(self, event: dict) -> str | None:
        """The project an event belongs to; None for a shared base model's events."""
        for field, kind in _OWNED_BY_FIELD:
            if event.get(field):
                return (await self.ownership.owners(kind, [event[field]]))[event[field]]
        if model := event.get("model"):
            direct = await self.ownership.store.owners("model", [model])
            owner = direct.get(model) or await self.ownership.model_owner(model)
            return None if owner in (None, SHARED) else owner
        return None

    async def on_event(self, event_type: str, data: bytes,
                       project: str = DEFAULT_PROJECT) -> None:
        """Queue one delivery per webhook of the event's project that wants its type;
        `project` is the one its subject names."""
        event = json.loads(data)
        if project == DEFAULT_PROJECT:
            project = await self.project_of(event)
        if project is None:
            return
        body = json.dumps({"id": event.get("id", ""), "type": event_type,
                           "created_at": event.get("created_at", int(time.time())),
                           "data": event})
        for hook in await self.store.of_project(project):
            if hook.wants(event_type):
                await self.store.enqueue(hook, event.get("id", ""), event_type, body)

    async def deliver_due(self) -> int:
        """Attempt every due delivery once; the number attempted."""
        due = await self.store.due()
        for d in due:
            await self._attempt(d)
        return len(due)

    async def _attempt(self, d: DeliveryRow) -> None:
        hook = await self.store.hook(d.webhook_id)
        if hook is None:
            await self.store.outcome(d.id, status="failed", last_error="webhook deleted")
            return
        body, code, error = d.body.encode(), None, ""
        try:
            resp = await self.http.post(hook.url, content=body,
                                        timeout=self.settings.webhook_timeout_s,
                                        headers=signing.headers(hook.secret, d.id,
                                                                int(time.time()), body))
            code = resp.status_code
        except httpx.HTTPError as e:
            error = f"{type(e).__name__}: {e}"
        attempts = d.attempts + 1
        if code is not None and 200 <= code < 300:
            await self.store.outcome(d.id, status="delivered", attempts=attempts,
                                     last_status_code=code, last_error="")
            log.info("webhook %s: delivered %s (%s) on attempt %d", hook.id, d.id,
                     d.event_type, attempts)
            return
        error = error or f"HTTP {code}"
        final = attempts >= self.settings.webhook_max_attempts
        state = tenacity.RetryCallState(None, None, (), {})
        state.attempt_number = attempts
        await self.store.outcome(d.id, status="failed" if final else "pending",
                                 attempts=attempts, last_status_code=code, last_error=error,
                                 next_attempt_at=time.time() + self._wait(state))
        log.warning("webhook %s: delivery %s (%s) attempt %d %s: %s", hook.id, d.id,
                    d.event_type, attempts, "gave up" if final else "will retry", error)

    async def run(self) -> None:
        while True:
            try:
                await self.deliver_due()
            except Exception:  # noqa: BLE001 - a database hiccup must not stop deliveries
                log.exception("webhook delivery pass failed")
            await asyncio.sleep(self.settings.webhook_poll_s)

    @classmethod
    async def open(cls, settings: GatewaySettings, store: WebhookStore, ownership: Ownership,
                   stack: AsyncExitStack, http: httpx.AsyncClient | None = None) -> "Dispatcher":
        """Subscribe to every event of `settings`' prefix and start the delivery worker."""
        if http is None:
            http = await stack.enter_async_context(httpx.AsyncClient())
        d = cls(store, ownership, http, settings)
        nc = await nats.connect(settings.nats_url, name="tuneforge-gateway-webhooks")
        stack.push_async_callback(nc.drain)
        js = nc.jetstream()
        prefix = settings.events_subject_prefix
        await ensure_stream(js, settings.events_stream, [f"{prefix}.>"])

        async def handle(msg) -> None:
            try:
                project, event_type = parse_subject(msg.subject)
            except ValueError:  # not an event (nor ever one): redelivery would not help
                log.warning("webhooks: ignored message on %s", msg.subject)
                await msg.ack()
                return
            try:
                await d.on_event(event_type, msg.data, project)
            except Exception:  # noqa: BLE001 - left unacked, JetStream redelivers it
                log.exception("webhook fan-out of %s failed", msg.subject)
                return
            await msg.ack()

        # A deliver group: gateway replicas share one durable consumer, each event fans out once.
        # `<prefix>.>`: every project's events, and the same filter as before projects.
        name = f"{DURABLE}-{_safe(prefix)}"
        await js.subscribe(f"{prefix}.>", queue=name, durable=name, cb=handle,
                           manual_ack=True, stream=settings.events_stream)
        task = asyncio.create_task(d.run())

        async def stop() -> None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        stack.push_async_callback(stop)
        return d


def _safe(prefix: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in prefix)
