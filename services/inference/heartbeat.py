"""Heartbeats: each replica tells the gateway, on core NATS, what it serves and how busy it is.

Core NATS rather than the JetStream event stream: a heartbeat is only worth anything while it
is fresh, so nothing should store it. The subject sits outside the stream's `<prefix>.>`.
"""

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import nats

from tuneforge.v1 import inference_pb2 as pb

if TYPE_CHECKING:  # the gateway imports this module for the subject; it must stay light
    from services.inference.service import DeploymentService

log = logging.getLogger(__name__)


def heartbeat_subject(prefix: str) -> str:
    return f"{prefix}-live.v1.inference.replica.heartbeat"


class Heartbeat:
    """Publishes this replica's heartbeat every `interval_s` until stopped."""

    def __init__(self, nc: nats.NATS, prefix: str, replica_id: str, address: str,
                 deployments: "DeploymentService", interval_s: float):
        self.nc, self.subject = nc, heartbeat_subject(prefix)
        self.replica_id, self.address = replica_id, address
        self.deployments, self.interval_s = deployments, interval_s
        self._task: asyncio.Task | None = None

    def message(self, stopping: bool = False) -> pb.ReplicaHeartbeat:
        models, listed = [], set()
        for name, served in self.deployments.served.items():
            engine = served.target.engine if served.target else None
            models.append(pb.ServedModel(
                model=name, status=served.rec.status, base_model=served.rec.base_model,
                outstanding=engine.outstanding if engine else 0))
            listed.add(name)
        for base in self.deployments.pool.loaded():  # served too: the base of an adapter
            if base not in listed:
                engine = self.deployments.pool.ready(base)
                models.append(pb.ServedModel(model=base, status="ready", base_model=base,
                                             outstanding=engine.outstanding if engine else 0))
        return pb.ReplicaHeartbeat(
            replica_id=self.replica_id, address=self.address, models=models,
            outstanding=sum(e.outstanding for e in self.deployments.engines()),
            interval_s=self.interval_s, sent_at_ms=int(time.time() * 1000), stopping=stopping)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="heartbeat")

    async def _run(self) -> None:
        while True:
            try:
                await self.nc.publish(self.subject, self.message().SerializeToString())
            except Exception:  # noqa: BLE001 - NATS reconnects by itself; the next beat retries
                log.warning("heartbeat not sent", exc_info=True)
            await asyncio.sleep(self.interval_s)

    async def stop(self) -> None:
        """Stop beating and say so, so the gateway stops routing here at once."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            await self.nc.publish(self.subject, self.message(stopping=True).SerializeToString())
            await self.nc.flush(timeout=2)
        except Exception:  # noqa: BLE001 - the gateway will notice the silence instead
            log.warning("last heartbeat not sent", exc_info=True)
