"""Rank 0's JSON lines turned into job events, JobMetrics events and the run's outcome."""

import json
import logging
import time

from services.common.events import EventBus, JobMetrics
from services.common.ids import now
from services.training.lifecycle import Lifecycle

log = logging.getLogger(__name__)

KINDS = ("metrics", "message", "error", "result", "checkpoint", "paused")


class Progress:
    """Reads the trainer's protocol (see trainer/report.py) for one job."""

    def __init__(self, job_id: str, lifecycle: Lifecycle, events: EventBus,
                 publish_interval_s: float):
        self.job_id, self.lifecycle, self.events = job_id, lifecycle, events
        self.publish_interval_s = publish_interval_s
        self._last_publish = float("-inf")
        self.error: dict | None = None
        self.result: dict | None = None
        self.paused_at: int | None = None

    async def handle(self, line: str) -> dict | None:
        """Act on one stdout line and return it parsed; None when it is not a protocol line
        (it goes to the log). Checkpoints are left to the caller."""
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            return None
        if not isinstance(msg, dict) or msg.get("type") not in KINDS:
            return None
        kind = msg["type"]
        if kind == "metrics":
            await self._metrics(msg, line)
        elif kind == "message":
            await self.lifecycle.note(self.job_id, str(msg.get("message", "")))
        elif kind == "error":
            self.error = {"code": msg.get("code") or "internal",
                          "message": msg.get("message") or "training failed",
                          "param": msg.get("param") or ""}
        elif kind == "result":
            self.result = msg
        elif kind == "paused":
            self.paused_at = int(msg.get("step", 0))
        return msg

    async def _metrics(self, m: dict, line: str) -> None:
        step, total = int(m.get("step", 0)), int(m.get("total_steps", 0))
        loss = float(m.get("loss", float("nan")))
        await self.lifecycle.note(self.job_id, f"Step {step}/{total}: training loss={loss:.4g}",
                                  type="metrics", data_json=line)
        eta = m.get("eta_s")
        await self.lifecycle.store.update(
            self.job_id, step=step, total_steps=total,
            estimated_finish=now() + int(eta) if eta is not None else 0)
        # A metrics event per step would flood subscribers of fast runs; the last one always goes.
        monotonic = time.monotonic()
        if step < total and monotonic - self._last_publish < self.publish_interval_s:
            return
        self._last_publish = monotonic
        await self.events.publish(JobMetrics(
            job_id=self.job_id, step=step, total_steps=total, epoch=float(m.get("epoch", 0)),
            loss=loss, learning_rate=float(m.get("learning_rate", 0))))
