"""Lifecycle events on NATS JetStream: one pydantic type per event, versioned subjects.

A subject is `<prefix>.v1.<project>.<service>.<entity>.<event>`, e.g.
`tuneforge.v1.team-a.training.job.succeeded`, so a subscriber can follow one project
(`tuneforge.v1.team-a.>`) or one event type of every project
(`tuneforge.v1.*.training.job.succeeded`). The project is the one of the request (or of the
work) that raised the event: see services/common/context.py. The JSON body is the event type's
schema (see docs/events.md, generated from `EVENT_TYPES`).
"""

import json
import logging
from collections.abc import Callable
from typing import Any, ClassVar

import nats
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError
from pydantic import BaseModel, Field, field_validator

from services.common.context import DEFAULT_PROJECT, check_project, current_project
from services.common.errors import TuneForgeError
from services.common.ids import new_id, now

log = logging.getLogger(__name__)

SCHEMA_VERSION = "v1"


class Event(BaseModel):
    """Fields every event carries."""

    subject_suffix: ClassVar[str]  # e.g. "training.job.succeeded"

    id: str = Field(default_factory=lambda: new_id("evt"), description="Unique event id.")
    created_at: int = Field(default_factory=now, description="Unix seconds.")
    project: str = Field(
        default_factory=current_project,
        description="Project whose request (or work) raised the event; also a token of the "
        f"subject. '{DEFAULT_PROJECT}' for work of no project, such as base models "
        "registered when the registry starts.")

    @field_validator("project")
    @classmethod
    def _subject_safe(cls, v: str) -> str:
        try:
            return check_project(v)
        except TuneForgeError as e:  # pydantic reports a ValueError as a validation error
            raise ValueError(e.message) from None


class FileEvent(Event):
    file_id: str = Field(description="The dataset file.")
    filename: str = Field(description="Name the file was uploaded with.")
    sha256: str = Field(description="SHA-256 of the uploaded bytes.")
    num_examples: int = Field(description="Valid training examples in the file.")


class DatasetUploaded(FileEvent):
    subject_suffix = "dataset.file.uploaded"


class DatasetValidated(FileEvent):
    subject_suffix = "dataset.file.validated"
    num_warnings: int = Field(description="Problems reported that do not block training.")


class DatasetInvalid(FileEvent):
    subject_suffix = "dataset.file.invalid"
    num_errors: int = Field(description="Problems that block training.")
    num_warnings: int = Field(description="Problems reported that do not block training.")
    status_details: str = Field(description="The first errors and their total count.")


class DatasetDeleted(Event):
    subject_suffix = "dataset.file.deleted"
    file_id: str = Field(description="The deleted file.")


class JobEvent(Event):
    job_id: str = Field(description="The fine-tuning job.")
    model: str = Field(description="Base model being fine-tuned.")
    status: str = Field(description="Job status after the transition.")


class JobQueued(JobEvent):
    subject_suffix = "training.job.queued"


class JobRunning(JobEvent):
    subject_suffix = "training.job.running"


class JobSucceeded(JobEvent):
    subject_suffix = "training.job.succeeded"
    fine_tuned_model: str = Field(description="Registered name of the result.")
    trained_tokens: int = Field(default=0, description="Tokens trained on, over every epoch.")


class JobFailed(JobEvent):
    subject_suffix = "training.job.failed"
    error: dict[str, Any] = Field(description="code, message and param of the failure.")


class JobCancelled(JobEvent):
    subject_suffix = "training.job.cancelled"


class JobMetrics(Event):
    subject_suffix = "training.job.metrics"
    job_id: str = Field(description="The fine-tuning job.")
    step: int = Field(description="Optimizer steps done.")
    total_steps: int = Field(description="Optimizer steps planned.")
    epoch: float = Field(description="Fractional epoch.")
    loss: float = Field(description="Training loss of the last step.")
    learning_rate: float = Field(description="Learning rate of the last step.")


class JobPaused(JobEvent):
    subject_suffix = "training.job.paused"


class JobCheckpoint(JobEvent):
    subject_suffix = "training.job.checkpoint"
    step: int = Field(description="Optimizer steps done when it was saved.")
    fine_tuned_model_checkpoint: str = Field(
        description="Deployable model id, <fine-tuned name>:ckpt-step-<step>.")
    metrics: dict[str, float] = Field(
        description="train_loss, train_mean_token_accuracy, valid_loss, ... at that step.")


class ModelEvent(Event):
    model: str = Field(description="Registered model name.")
    kind: str = Field(description="base or fine-tuned.")
    parent: str = Field(default="", description="Base model of a fine-tuned model.")
    name: str = Field(default="", description="The name its versions share.")
    version: int = Field(default=0, description="Its version within name.")


class ModelRegistered(ModelEvent):
    subject_suffix = "registry.model.registered"


class ModelFailed(ModelEvent):
    subject_suffix = "registry.model.failed"
    error: dict[str, Any] = Field(description="code, message and param: why it is not served.")


class ModelDeleted(Event):
    subject_suffix = "registry.model.deleted"
    model: str = Field(description="The deleted model.")
    name: str = Field(description="The name its versions share.")
    version: int = Field(description="Its version within name.")


class AliasMoved(Event):
    subject_suffix = "registry.alias.moved"
    name: str = Field(description="Model name the alias belongs to.")
    alias: str = Field(description="e.g. production.")
    model: str = Field(description="Version it points at now; empty when the alias was deleted.")
    version: int = Field(description="That version's number; 0 when deleted.")
    previous_model: str = Field(description="Version it pointed at before; empty when new.")


class DeploymentEvent(Event):
    deployment_id: str = Field(description="The deployment.")
    model: str = Field(description="Model it serves.")
    status: str = Field(description="Deployment status after the transition.")


class DeploymentCreated(DeploymentEvent):
    subject_suffix = "inference.deployment.created"


class DeploymentReady(DeploymentEvent):
    subject_suffix = "inference.deployment.ready"


class DeploymentFailed(DeploymentEvent):
    subject_suffix = "inference.deployment.failed"
    error: dict[str, Any] = Field(description="code, message and param of the failure.")


class DeploymentDeleted(DeploymentEvent):
    subject_suffix = "inference.deployment.deleted"


class DeploymentMoved(DeploymentEvent):
    subject_suffix = "inference.deployment.moved"
    previous_model: str = Field(description="Registered model it served before.")
    resolved_model: str = Field(description="Registered model it serves now.")


EVENT_TYPES: list[type[Event]] = [
    DatasetUploaded, DatasetValidated, DatasetInvalid, DatasetDeleted,
    JobQueued, JobRunning, JobSucceeded, JobFailed, JobCancelled, JobMetrics, JobPaused,
    JobCheckpoint,
    ModelRegistered, ModelFailed, ModelDeleted, AliasMoved,
    DeploymentCreated, DeploymentReady, DeploymentFailed, DeploymentDeleted, DeploymentMoved,
]


def subject_for(prefix: str, event_type: type[Event], project: str) -> str:
    """The subject an event of `event_type` raised for `project` is published on."""
    return f"{prefix}.{SCHEMA_VERSION}.{project}.{event_type.subject_suffix}"


def subject_filter(prefix: str, event_type: type[Event] | None = None,
                   project: str = "*") -> str:
    """A subscription's subject: `event_type` (every type when None) of `project` (every
    project by default)."""
    if project != "*":
        check_project(project)
    tail = event_type.subject_suffix if event_type else ">"
    return f"{prefix}.{SCHEMA_VERSION}.{project}.{tail}"


def parse_subject(subject: str) -> tuple[str, str]:
    """(project, event type) of an event's subject, e.g. ('team-a', 'training.job.succeeded').

    A subject from before projects (`<prefix>.v1.<service>.<entity>.<event>`, still in a
    stream after an upgrade) reads as the default project's.
    """
    tokens = subject.split(".")  # the prefix may hold dots: read from the right
    if len(tokens) >= 6 and tokens[-5] == SCHEMA_VERSION:
        return tokens[-4], ".".join(tokens[-3:])
    if len(tokens) >= 5 and tokens[-4] == SCHEMA_VERSION:
        return DEFAULT_PROJECT, ".".join(tokens[-3:])
    raise ValueError(f"not an event subject: {subject!r}")


class EventBus:
    """Publishes events to JetStream. Owned by a service's exit stack; `close()` drains."""

    def __init__(self, url: str, stream: str, prefix: str):
        self.url, self.stream, self.prefix = url, stream, prefix
        self._nc: nats.NATS | None = None
        self._js = None
        self._observers: list[Callable[[Event], None]] = []

    def observe(self, callback: Callable[[Event], None]) -> None:
        """Call `callback` with each event once it is published (metrics count them)."""
        self._observers.append(callback)

    @classmethod
    async def open(cls, stack, settings) -> "EventBus":
        """Connect with the process settings; `stack` drains the connection on close."""
        bus = await cls(settings.nats_url, settings.events_stream,
                        settings.events_subject_prefix).connect()
        stack.push_async_callback(bus.close)
        return bus

    async def connect(self) -> "EventBus":
        self._nc = await nats.connect(self.url, name="tuneforge", max_reconnect_attempts=-1)
        self._js = self._nc.jetstream()
        await ensure_stream(self._js, self.stream, [f"{self.prefix}.>"])
        return self

    async def publish(self, event: Event) -> None:
        subject = subject_for(self.prefix, type(event), event.project)
        payload = event.model_dump_json().encode()
        # Msg-Id lets JetStream drop a duplicate when a publish is retried.
        await self._js.publish(subject, payload, headers={"Nats-Msg-Id": event.id})
        log.debug("published %s", subject)
        for observe in self._observers:
            observe(event)

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.drain()


async def ensure_stream(js, name: str, subjects: list[str]) -> None:
    """Create the stream, or add our subjects to an existing one."""
    try:
        info = await js.stream_info(name)
    except nats.js.errors.NotFoundError:
        try:
            await js.add_stream(StreamConfig(name=name, subjects=subjects))
        except BadRequestError:  # created concurrently by another service
            pass
        return
    missing = [s for s in subjects if s not in (info.config.subjects or [])]
    if missing:
        info.config.subjects = list(info.config.subjects or []) + missing
        await js.update_stream(info.config)


def decode(subject: str, data: bytes) -> Event:
    """Parse a message back into its event type (for consumers and tests)."""
    project, suffix = parse_subject(subject)
    for t in EVENT_TYPES:
        if t.subject_suffix == suffix:
            # An event from before projects has no project field: its subject's is the same.
            return t.model_validate({"project": project, **json.loads(data)})
    raise ValueError(f"unknown event subject {subject}")
