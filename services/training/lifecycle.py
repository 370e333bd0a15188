"""Job status changes, recorded the same way everywhere: the row, a job event, a NATS event."""

import logging

from services.common.events import (EventBus, JobCancelled, JobEvent, JobFailed, JobPaused,
                                    JobQueued, JobRunning, JobSucceeded)
from services.common.ids import now
from services.training.store import JobEventRecord, JobRecord, JobStore

log = logging.getLogger(__name__)

FINISHED = ("succeeded", "failed", "cancelled")
_EVENTS: dict[str, type[JobEvent]] = {
    "queued": JobQueued, "running": JobRunning, "succeeded": JobSucceeded,
    "failed": JobFailed, "cancelled": JobCancelled, "paused": JobPaused,
}


class Lifecycle:
    def __init__(self, store: JobStore, events: EventBus):
        self.store, self.events = store, events

    async def note(self, job_id: str, message: str, level: str = "info", type: str = "message",
                   data_json: str = "") -> JobEventRecord:
        """Add an event to the job's log (what ListJobEvents shows)."""
        return await self.store.add_event(job_id, message, level, type, data_json)

    async def announce(self, job: JobRecord, **event_fields) -> None:
        """Publish the NATS event of the job's current status."""
        await self.events.publish(_EVENTS[job.status](
            job_id=job.id, model=job.model, status=job.status, **event_fields))

    async def move(self, job_id: str, from_status: tuple[str, ...], to_status: str,
                   message: str, level: str = "info", event_fields: dict | None = None,
                   **fields) -> JobRecord | None:
        """Change the status if the job is in `from_status` (else None), log it, publish it."""
        if to_status in FINISHED:
            fields.setdefault("finished_at", now())
        job = await self.store.transition(job_id, from_status, to_status,
                                          event=(message, level), **fields)
        if job is not None:
            await self.announce(job, **(event_fields or {}))
            log.info("job %s is %s", job.id, job.status)
        return job

    async def record(self, job: JobRecord, message: str, level: str = "info",
                     **event_fields) -> None:
        """Log and publish a status change already stored."""
        await self.note(job.id, message, level)
        await self.announce(job, **event_fields)
        log.info("job %s is %s", job.id, job.status)
