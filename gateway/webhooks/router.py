"""/v1/webhooks: a project's endpoints, the event types each wants, and their deliveries."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, HttpUrl

from gateway.api.common import ERRORS, ListResponse
from gateway.auth.keys import LOCAL, Principal
from gateway.webhooks.signing import new_secret
from gateway.webhooks.store import DeliveryRow, Webhook, WebhookStore
from services.common.errors import TuneForgeError
from services.common.events import EVENT_TYPES

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=ERRORS)
TYPES = sorted(t.subject_suffix for t in EVENT_TYPES)


def get_store(request: Request) -> WebhookStore:
    store = getattr(request.app.state, "webhooks", None)
    if store is None:
        raise TuneForgeError("unavailable", "Webhooks are not running in this gateway.")
    return store


def get_principal(request: Request) -> Principal:
    return getattr(request.state, "principal", LOCAL)


StoreDep = Annotated[WebhookStore, Depends(get_store)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


class CreateWebhook(BaseModel):
    url: HttpUrl = Field(description="Endpoint that receives POSTed events.")
    event_types: list[str] = Field(
        min_length=1, description="Event types to deliver, e.g. training.job.succeeded, "
                                  "or * for all: " + ", ".join(TYPES))


class WebhookObject(BaseModel):
    object: str = "webhook"
    id: str = Field(description="The webhook's id.")
    url: str = Field(description="Endpoint that receives POSTed events.")
    event_types: list[str] = Field(description="Event types delivered.")
    created_at: int = Field(description="Unix seconds.")

    @classmethod
    def of(cls, h: Webhook) -> "WebhookObject":
        return cls(id=h.id, url=h.url, event_types=h.event_types, created_at=h.created_at)


class CreatedWebhook(WebhookObject):
    secret: str = Field(description="whsec_ signing secret (Standard Webhooks). Shown once.")


class DeliveryObject(BaseModel):
    object: str = "webhook.delivery"
    id: str = Field(description="Also the webhook-id header of every attempt.")
    event_type: str = Field(description="Type of the event delivered.")
    status: str = Field(description="pending, delivered or failed.")
    attempts: int = Field(description="Attempts made so far.")
    last_status_code: int | None = Field(description="HTTP status of the last attempt.")
    last_error: str = Field(description="Why the last attempt failed; empty on success.")
    created_at: int = Field(description="Unix seconds.")

    @classmethod
    def of(cls, d: DeliveryRow) -> "DeliveryObject":
        return cls(id=d.id, event_type=d.event_type, status=d.status, attempts=d.attempts,
                   last_status_code=d.last_status_code, last_error=d.last_error,
                   created_at=d.created_at)


@router.post("", response_model=CreatedWebhook, summary="Register a webhook")
async def create_webhook(body: CreateWebhook, store: StoreDep,
                         who: PrincipalDep) -> CreatedWebhook:
    unknown = [t for t in body.event_types if t != "*" and t not in TYPES]
    if unknown:
        raise TuneForgeError("invalid_argument", f"Unknown event type {unknown[0]!r}; known: "
                             + ", ".join(TYPES), "event_types")
    secret = new_secret()
    hook = await store.create(who.project_id, str(body.url), body.event_types, secret)
    return CreatedWebhook(**WebhookObject.of(hook).model_dump(), secret=secret)


@router.get("", response_model=ListResponse[WebhookObject], summary="List webhooks")
async def list_webhooks(store: StoreDep, who: PrincipalDep) -> ListResponse[WebhookObject]:
    return ListResponse(data=[WebhookObject.of(h) for h in await store.of_project(
        who.project_id)])


@router.get("/{webhook_id}/deliveries", response_model=ListResponse[DeliveryObject],
            summary="A webhook's deliveries, newest first, with their outcome")
async def list_deliveries(webhook_id: str, store: StoreDep,
                          who: PrincipalDep) -> ListResponse[DeliveryObject]:
    await store.get(who.project_id, webhook_id)
    return ListResponse(data=[DeliveryObject.of(d) for d in await store.deliveries(webhook_id)])


@router.delete("/{webhook_id}", response_model=WebhookObject, summary="Delete a webhook")
async def delete_webhook(webhook_id: str, store: StoreDep, who: PrincipalDep) -> WebhookObject:
    return WebhookObject.of(await store.delete(who.project_id, webhook_id))
