"""SQL store of webhooks and their deliveries; a pending delivery survives a restart."""

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import JSON, BigInteger, Float, Integer, String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store import Base
from services.common.errors import not_found


class WebhookRow(Base):
    __tablename__ = "gateway_webhooks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[list] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(128))  # kept to sign; HMAC needs the key itself
    created_at: Mapped[int] = mapped_column(BigInteger)


class DeliveryRow(Base):
    __tablename__ = "gateway_webhook_deliveries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True)
class Webhook:
    id: str
    project_id: str
    url: str
    event_types: list[str]
    secret: str
    created_at: int

    def wants(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types


def _hook(r: WebhookRow) -> Webhook:
    return Webhook(r.id, r.project_id, r.url, list(r.event_types), r.secret, r.created_at)


class WebhookStore:
    def __init__(self, sessions: async_sessionmaker):
        self.sessions = sessions

    async def create(self, project_id: str, url: str, event_types: list[str],
                     secret: str) -> Webhook:
        row = WebhookRow(id="wh_" + secrets.token_hex(8), project_id=project_id, url=url,
                         event_types=event_types, secret=secret, created_at=int(time.time()))
        async with self.sessions() as s, s.begin():
            s.add(row)
        return _hook(row)

    async def get(self, project_id: str, webhook_id: str) -> Webhook:
        async with self.sessions() as s:
            row = await s.get(WebhookRow, webhook_id)
        if row is None or row.project_id != project_id:
            raise not_found("webhook", webhook_id, "webhook_id")
        return _hook(row)

    async def of_project(self, project_id: str) -> list[Webhook]:
        async with self.sessions() as s:
            rows = await s.scalars(select(WebhookRow).where(WebhookRow.project_id == project_id)
                                   .order_by(WebhookRow.created_at, WebhookRow.id))
            return [_hook(r) for r in rows]

    async def delete(self, project_id: str, webhook_id: str) -> Webhook:
        hook = await self.get(project_id, webhook_id)
        async with self.sessions() as s, s.begin():
            await s.delete(await s.get(WebhookRow, webhook_id))
        return hook

    async def enqueue(self, hook: Webhook, event_id: str, event_type: str, body: str) -> None:
        """A pending delivery of one event to one webhook; a redelivered event adds none."""
        try:
            async with self.sessions() as s, s.begin():
                s.add(DeliveryRow(id="msg_" + secrets.token_hex(12), webhook_id=hook.id,
                                  event_id=event_id, event_type=event_type, body=body,
                                  status="pending", attempts=0, next_attempt_at=time.time(),
                                  created_at=int(time.time())))
        except IntegrityError:
            pass

    async def due(self, limit: int = 32) -> list[DeliveryRow]:
        async with self.sessions() as s:
            return list(await s.scalars(
                select(DeliveryRow).where(DeliveryRow.status == "pending",
                                          DeliveryRow.next_attempt_at <= time.time())
                .order_by(DeliveryRow.next_attempt_at).limit(limit)))

    async def hook(self, webhook_id: str) -> Webhook | None:
        async with self.sessions() as s:
            row = await s.get(WebhookRow, webhook_id)
        return _hook(row) if row else None

    async def outcome(self, delivery_id: str, **fields) -> None:
        async with self.sessions() as s, s.begin():
            row = await s.get(DeliveryRow, delivery_id)
            for k, v in fields.items():
                setattr(row, k, v)

    async def deliveries(self, webhook_id: str, limit: int = 100) -> list[DeliveryRow]:
        async with self.sessions() as s:
            return list(await s.scalars(
                select(DeliveryRow).where(DeliveryRow.webhook_id == webhook_id)
                .order_by(DeliveryRow.created_at.desc(), DeliveryRow.id).limit(limit)))
