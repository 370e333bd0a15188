"""Rank 0's JSON lines turned into job events, JobMetrics events and the run's outcome."""

import json
import logging
import time

from services.common.events import EventBus, JobMetrics
from services.training.lifecycle import Lifecycle

log = logging.getLogger(__name__)


class Progress:
    """Reads the trainer's protocol (see trainer/report.py) for one job."""

    def __init__(self, job_id: str, lifecycle: Lifecycle, events: EventBus,
                 publish_interval_s: float):
        self.job_id, self.lifecycle, self.events = job_id, lifecycle, events
        self.publish_interval_s = publish_interval_s
        self._last_publish = float("-inf")
        self.error: dict | None = None
        self.result: dict | None = None

    async def handle(self, line: str) -> bool:
        """Act on one stdout line; False when it is not a protocol line (it goes to the log)."""
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            return False
        if not isinstance(msg, dict) or "type" not in msg:
            return False
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
        else:
            return False
        return True

    async def _metrics(self, m: dict, line: str) -> None:
        step, total = int(m.get("step", 0)), int(m.get("total_steps", 0))
        loss = float(m.get("loss", float("nan")))
        await self.lifecycle.note(self.job_id, f"Step {step}/{total}: training loss={loss:.4g}",
                                  type="metrics", data_json=line)
        # A metrics event per step would flood subscribers of fast runs; the last one always goes.
        monotonic = time.monotonic()
        if step < total and monotonic - self._last_publish < self.publish_interval_s:
            return
        self._last_publish = monotonic
        await self.events.publish(JobMetrics(
            job_id=self.job_id, step=step, total_steps=total, epoch=float(m.get("epoch", 0)),
            loss=loss, learning_rate=float(m.get("learning_rate", 0))))
