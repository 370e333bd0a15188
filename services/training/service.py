"""Training logic: creating, listing and cancelling jobs; the runner does the training."""

import logging
import secrets
from dataclasses import dataclass, field
from typing import Protocol

from services.common.errors import TuneForgeError, not_found
from services.common.ids import new_id, now
from services.training.clients import DatasetClient, RegistryClient
from services.training.lifecycle import FINISHED, Lifecycle
from services.training.store import JobEventRecord, JobRecord, JobStore
from services.training.trainer.config import Hyperparameters
from services.training.validation import (Problem, raise_problems, resolve_hyperparameters,
                                          suffix_problems)

log = logging.getLogger(__name__)

MAX_METADATA = 16
MAX_SEED = 2**63 - 1


class Runner(Protocol):
    def wake(self) -> None:
        """A job was queued."""

    async def stop(self, job_id: str) -> None:
        """Stop the job's ranks (if any) and wait until they are gone."""


@dataclass
class JobRequest:
    model: str
    training_file: str
    hyperparameters: dict = field(default_factory=dict)  # only the values the caller set
    validation_file: str = ""
    suffix: str = ""
    seed: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def _request_problems(req: JobRequest) -> list[Problem]:
    problems: list[Problem] = []
    if not req.training_file:
        problems.append(("training_file", "is required"))
    if req.validation_file:
        problems.append(("validation_file", "is not supported yet; leave it empty"))
    problems += suffix_problems(req.suffix)
    if req.seed is not None and not 0 <= req.seed <= MAX_SEED:
        problems.append(("seed", f"must be between 0 and {MAX_SEED} (got {req.seed})"))
    if len(req.metadata) > MAX_METADATA:
        problems.append(("metadata", f"must have at most {MAX_METADATA} keys "
                                     f"(got {len(req.metadata)})"))
    problems += [(f"metadata.{k}", "keys are at most 64 characters and values at most 512")
                 for k, v in req.metadata.items() if len(k) > 64 or len(v) > 512]
    return problems


class TrainingService:
    def __init__(self, store: JobStore, lifecycle: Lifecycle, dataset: DatasetClient,
                 registry: RegistryClient, runner: Runner, defaults: Hyperparameters,
                 max_ranks: int):
        self.store, self.lifecycle, self.runner = store, lifecycle, runner
        self.dataset, self.registry = dataset, registry
        self.defaults, self.max_ranks = defaults, max_ranks

    async def create(self, req: JobRequest) -> JobRecord:
        """Validate everything, resolve model and file, queue the job."""
        if not req.model:
            raise TuneForgeError("invalid_argument", "model is required.", "model")
        model = await self._model(req.model)
        hp, problems = resolve_hyperparameters(req.hyperparameters, self.defaults,
                                               model.context_length, self.max_ranks)
        raise_problems(_request_problems(req) + problems)
        file = await self._training_file(req.training_file)
        job = JobRecord(
            id=new_id("ftjob"), created_at=now(), model=model.id, model_root=model.root,
            training_file=file.id, status="queued", hyperparameters=hp.model_dump(),
            seed=secrets.randbelow(2**31) if req.seed is None else req.seed,
            base_artifact_prefix=model.artifact_prefix, training_file_key=file.artifact_key,
            training_file_sha256=file.sha256, suffix=req.suffix,
            user_metadata=dict(req.metadata),
        )
        await self.store.add(job)
        await self.lifecycle.note(job.id, f"Created fine-tuning job: {job.id}")
        await self.lifecycle.note(
            job.id, f"Validated training file: {file.id} ({file.num_examples} examples)")
        await self.lifecycle.record(job, "Files validated, moving job to queued state")
        self.runner.wake()
        return job

    async def _model(self, model_id: str):
        try:
            model = await self.registry.get_model(model_id)
        except TuneForgeError as e:
            if e.code in ("model_not_found", "not_found"):
                raise TuneForgeError("model_not_found",
                                     f"The model '{model_id}' does not exist.", "model") from None
            raise
        if model.status and model.status != "ready":
            raise TuneForgeError("invalid_argument", f"The model '{model_id}' is "
                                 f"{model.status}, not ready to fine-tune.", "model")
        if model.format == "lora":
            raise TuneForgeError("invalid_argument", f"The model '{model_id}' is a LoRA "
                                 "adapter; merge it into its base first.", "model")
        return model

    async def _training_file(self, file_id: str):
        try:
            file = await self.dataset.get_file(file_id)
        except TuneForgeError as e:
            if e.code == "not_found":
                raise not_found("file", file_id, "training_file") from None
            raise
        if file.status != "processed":
            detail = f": {file.status_details}" if file.status_details else ""
            raise TuneForgeError("invalid_argument", f"File '{file_id}' is not ready for "
                                 f"fine-tuning, its status is '{file.status}'{detail}.",
                                 "training_file")
        return file

    async def get(self, job_id: str, param: str = "id") -> JobRecord:
        job = await self.store.get(job_id)
        if job is None:
            raise not_found("fine-tuning job", job_id, param)
        return job

    async def list_jobs(self, limit: int, after: str = "") -> tuple[list[JobRecord], bool]:
        return await self.store.list(limit, after)

    async def cancel(self, job_id: str) -> JobRecord:
        """Cancel a queued job, or stop a running one's ranks first; finished jobs conflict."""
        # Two tries: the runner may claim a queued job between our read and our update.
        for _ in range(2):
            job = await self.get(job_id)
            if job.status in FINISHED:
                raise TuneForgeError("conflict", f"Job {job_id} has status '{job.status}'; only "
                                     "queued or running jobs can be cancelled.", "id")
            moved = await self.store.transition(job_id, (job.status,), "cancelled",
                                                finished_at=now())
            if moved is not None:
                if job.status == "running":
                    await self.runner.stop(job_id)
                await self.lifecycle.record(moved, "The job was cancelled")
                return moved
        raise TuneForgeError("conflict", f"Job {job_id} changed status while being cancelled; "
                             "try again.", "id")

    async def list_events(self, job_id: str, limit: int,
                          after: str = "") -> tuple[list[JobEventRecord], bool]:
        await self.get(job_id, "job_id")
        return await self.store.list_events(job_id, limit, after)
