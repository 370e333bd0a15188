"""Webhooks: projects register URLs for event types; deliveries are signed, retried, logged."""

from contextlib import AsyncExitStack

from fastapi import FastAPI


async def open_webhooks(app: FastAPI, settings, tenancy, stack: AsyncExitStack) -> None:
    """Start the event consumer and delivery worker; the store goes on `app.state.webhooks`."""
    from gateway.webhooks.dispatcher import Dispatcher
    from gateway.webhooks.store import WebhookStore

    app.state.webhooks = store = WebhookStore(tenancy.store.sessions)
    app.state.webhook_dispatcher = await Dispatcher.open(settings, store, tenancy.ownership,
                                                         stack)


def install(app: FastAPI) -> None:
    from gateway.webhooks.router import router

    app.include_router(router)
