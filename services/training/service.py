"""Training logic: creating, listing and cancelling jobs; the runner does the training."""

import asyncio
import json
import re
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from services.common.artifacts import ArtifactNotFound, ArtifactStore
from services.common.context import current_project
from services.common.errors import TuneForgeError, not_found
from services.common.ids import new_id, now
from services.training.clients import DatasetClient, RegistryClient
from services.training.lifecycle import FINISHED, Lifecycle
from services.training.memory import Estimate, ModelShape, check, describe
from services.training.multinode import ClusterSettings
from services.training.multinode import problems as multinode_problems
from services.training.runner import log_key
from services.training.workspace import Workspace
from services.training.store import (AgentRecord, CheckpointRecord, JobEventRecord, JobRecord,
                                     JobStore)
from services.training.trainer.config import Hyperparameters
from services.training.validation import (Problem, raise_problems, resolve_hyperparameters,
                                          suffix_problems)

log = logging.getLogger(__name__)

_ALIAS = re.compile(r"[a-z][a-z0-9_-]{0,63}")
MAX_METADATA = 16
MAX_SEED = 2**63 - 1
MAX_EVAL_PROMPTS = 20
WATCH_POLL_S = 0.5
# Statuses from which a job may be paused, resumed or cancelled.
PAUSABLE = ("queued", "running")
CANCELLABLE = ("validating_files", "queued", "running", "paused")


class Runner(Protocol):
    async def stop(self, job_id: str) -> None:
        """Stop the job's ranks if this process runs them, and wait until they are gone."""


class Queue(Protocol):
    async def submit(self, job_id: str) -> None:
        """Hand the job to the training agents."""


@dataclass(frozen=True)
class Capacity:
    """What the agents' devices offer, for the up-front checks."""

    max_ranks: int
    device_memory: Callable[[int], int]  # num_ranks -> bytes one rank can use
    mixed_precision: bool
    gpu: bool
    cluster: ClusterSettings = field(default_factory=ClusterSettings)  # for num_nodes > 1


@dataclass
class JobRequest:
    model: str
    training_file: str
    hyperparameters: dict = field(default_factory=dict)  # only the values the caller set
    validation_file: str = ""
    suffix: str = ""
    seed: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    eval_prompts: list[str] = field(default_factory=list)
    auto_deploy: bool = False
    alias: str = ""
    project: str = ""


def _request_problems(req: JobRequest) -> list[Problem]:
    problems: list[Problem] = []
    if not req.training_file:
        problems.append(("training_file", "is required"))
    if len(req.eval_prompts) > MAX_EVAL_PROMPTS:
        problems.append(("eval_prompts", f"must have at most {MAX_EVAL_PROMPTS} prompts "
                                         f"(got {len(req.eval_prompts)})"))
    problems += [(f"eval_prompts[{i}]", "must be a non-empty string of at most 4000 characters")
                 for i, p in enumerate(req.eval_prompts) if not p.strip() or len(p) > 4000]
    if req.alias and not _ALIAS.fullmatch(req.alias):
        problems.append(("alias", "must start with a lower case letter, then at most 63 lower "
                                  f"case letters, digits, '-' or '_' (got {req.alias!r})"))
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
                 registry: RegistryClient, runner: Runner, queue: Queue,
                 artifacts: ArtifactStore, defaults: Hyperparameters, capacity: Capacity,
                 work_root: Path | None = None, agent_stale_s: float = 60.0):
        self.store, self.lifecycle, self.runner, self.queue = store, lifecycle, runner, queue
        self.dataset, self.registry, self.artifacts = dataset, registry, artifacts
        self.defaults, self.capacity = defaults, capacity
        self.work_root, self.agent_stale_s = work_root, agent_stale_s

    async def agents(self) -> list[AgentRecord]:
        return await self.store.agents(now() - int(self.agent_stale_s))

    async def current_capacity(self) -> Capacity:
        """What the live agents offer (the largest of each), else this host's capacity."""
        agents = await self.agents()
        if not agents:
            return self.capacity
        return Capacity(
            max_ranks=max(a.max_ranks for a in agents),
            device_memory=lambda ranks: max(a.hardware.device_memory(ranks) for a in agents),
            mixed_precision=any(a.bf16 for a in agents),
            gpu=any(a.cuda_devices for a in agents), cluster=self.capacity.cluster)

    async def logs(self, job_id: str, tail_lines: int) -> tuple[str, bool]:
        """The last `tail_lines` lines of the ranks' log: this host's copy while it runs here,
        else the one kept in the artifact store when a run ended."""
        await self.get(job_id, "job_id")
        local = Workspace(self.work_root / job_id).log_file if self.work_root else None
        if local is not None and local.is_file():
            text = await asyncio.to_thread(local.read_text, encoding="utf-8", errors="replace")
        else:
            try:
                raw = await asyncio.to_thread(self.artifacts.get_bytes, log_key(job_id))
            except ArtifactNotFound:
                return "", False
            text = raw.decode("utf-8", "replace")
        lines = text.splitlines()
        return "\n".join(lines[-tail_lines:]), len(lines) > tail_lines

    async def _resolve(self, req: JobRequest):
        """The model, the resolved hyperparameters, the files and the memory estimate; every
        problem at once."""
        if not req.model:
            raise TuneForgeError("invalid_argument", "model is required.", "model")
        model = await self._model(req.model)
        capacity = await self.current_capacity()
        hp, problems = resolve_hyperparameters(req.hyperparameters, self.defaults,
                                               model.context_length, capacity.max_ranks)
        if hp is not None:
            problems += multinode_problems(hp, capacity.cluster)
        raise_problems(_request_problems(req) + problems)
        file = await self._data_file(req.training_file, "training_file")
        valid = await self._data_file(req.validation_file, "validation_file") \
            if req.validation_file else None
        return model, hp, file, valid, await self._estimate(model, hp, capacity)

    async def create(self, req: JobRequest) -> JobRecord:
        """Validate everything, resolve model and files, check the fit, queue the job."""
        model, hp, file, valid, est = await self._resolve(req)
        if not est.fits:
            raise TuneForgeError("invalid_argument", f"The job cannot fit in memory: it "
                                 f"{describe(est)}.", "hyperparameters.zero_stage")
        job = JobRecord(
            id=new_id("ftjob"), created_at=now(), model=model.id, model_root=model.root,
            training_file=file.id, status="queued", hyperparameters=hp.model_dump(),
            seed=secrets.randbelow(2**31) if req.seed is None else req.seed,
            base_artifact_prefix=model.artifact_prefix, training_file_key=file.artifact_key,
            training_file_sha256=file.sha256, suffix=req.suffix,
            user_metadata=dict(req.metadata),
            validation_file=valid.id if valid else "",
            validation_file_key=valid.artifact_key if valid else "",
            eval_prompts=list(req.eval_prompts) or None, auto_deploy=req.auto_deploy,
            alias=req.alias, project=req.project or current_project(),
        )
        await self.store.add(job)
        await self.lifecycle.note(job.id, f"Created fine-tuning job: {job.id}")
        files = f"{file.id} ({file.num_examples} examples)" + \
            (f" and validation file {valid.id} ({valid.num_examples} examples)" if valid else "")
        await self.lifecycle.note(job.id, f"Validated training file: {files}")
        await self.lifecycle.note(
            job.id, f"Memory per device: about {est.per_device_bytes / 2**30:.2f} GiB of "
                    f"{est.device_bytes / 2**30:.1f} GiB",
            data_json=json.dumps({"per_device_bytes": est.per_device_bytes,
                                  "device_bytes": est.device_bytes,
                                  "breakdown": est.breakdown}))
        await self.lifecycle.record(job, "Files validated, moving job to queued state")
        await self.queue.submit(job.id)
        return job

    async def estimate(self, req: JobRequest) -> Estimate:
        """The memory check of a job request, without creating the job."""
        return (await self._resolve(req))[4]

    async def _estimate(self, model, hp: Hyperparameters, capacity: Capacity) -> Estimate:
        try:
            config = json.loads(await asyncio.to_thread(
                self.artifacts.get_bytes, f"{model.artifact_prefix.rstrip('/')}/config.json"))
        except (ArtifactNotFound, ValueError):
            config = {}
        shape = ModelShape.from_config(config, model.num_parameters)
        mixed = capacity.mixed_precision if hp.bf16 is None else hp.bf16
        return check(shape, hp, capacity.device_memory(hp.num_gpus), mixed, capacity.gpu)

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

    async def _data_file(self, file_id: str, param: str):
        try:
            file = await self.dataset.get_file(file_id)
        except TuneForgeError as e:
            if e.code == "not_found":
                raise not_found("file", file_id, param) from None
            raise
        if file.status != "processed":
            detail = f": {file.status_details}" if file.status_details else ""
            raise TuneForgeError("invalid_argument", f"File '{file_id}' is not ready for "
                                 f"fine-tuning, its status is '{file.status}'{detail}.", param)
        return file

    async def get(self, job_id: str, param: str = "id") -> JobRecord:
        job = await self.store.get(job_id)
        if job is None:
            raise not_found("fine-tuning job", job_id, param)
        return job

    async def list_jobs(self, limit: int, after: str = "", status: str = "",
                        metadata: dict[str, str] | None = None,
                        ) -> tuple[list[JobRecord], bool]:
        return await self.store.list(limit, after, status, metadata)

    async def cancel(self, job_id: str) -> JobRecord:
        """Cancel a queued or paused job, or stop a running one's ranks; finished ones conflict."""
        # Two tries: an agent may claim a queued job between our read and our update.
        for _ in range(2):
            job = await self.get(job_id)
            if job.status not in CANCELLABLE:
                raise TuneForgeError("conflict", f"Job {job_id} has status '{job.status}'; only "
                                     "queued, running or paused jobs can be cancelled.", "id")
            moved = await self.lifecycle.move(job_id, (job.status,), "cancelled",
                                              "The job was cancelled", estimated_finish=0)
            if moved is not None:
                if job.status == "running":
                    await self.runner.stop(job_id)
                return moved
        raise TuneForgeError("conflict", f"Job {job_id} changed status while being cancelled; "
                             "try again.", "id")

    async def pause(self, job_id: str) -> JobRecord:
        """Queued: paused at once. Running: its agent checkpoints at the next step and stops."""
        for _ in range(2):
            job = await self.get(job_id)
            if job.status == "queued":
                moved = await self.lifecycle.move(job_id, ("queued",), "paused",
                                                  "The job was paused before it started")
            elif job.status == "running":
                if job.control == "pause":
                    return job
                moved = await self.store.transition(job_id, ("running",), "running",
                                                    control="pause")
                if moved is not None:
                    await self.lifecycle.note(job_id, "Pause requested: the job saves a "
                                              "checkpoint after its current step and stops")
            else:
                raise TuneForgeError("conflict", f"Job {job_id} has status '{job.status}'; only "
                                     "queued or running jobs can be paused.", "id")
            if moved is not None:
                return moved
        raise TuneForgeError("conflict", f"Job {job_id} changed status while being paused; "
                             "try again.", "id")

    async def resume(self, job_id: str) -> JobRecord:
        """Queue a paused job again; it continues from its latest checkpoint."""
        job = await self.get(job_id)
        if job.status != "paused":
            raise TuneForgeError("conflict", f"Job {job_id} has status '{job.status}'; only "
                                 "paused jobs can be resumed.", "id")
        where = f"from checkpoint {job.resume['tag']}" if job.resume else "from the start"
        moved = await self.lifecycle.move(job_id, ("paused",), "queued",
                                          f"The job was resumed and continues {where}")
        if moved is None:
            raise TuneForgeError("conflict", f"Job {job_id} changed status while being "
                                 "resumed; try again.", "id")
        await self.queue.submit(job_id)
        return moved

    async def checkpoints(self, job_id: str, limit: int,
                          after: str = "") -> tuple[list[CheckpointRecord], bool]:
        await self.get(job_id, "job_id")
        found = await self.store.checkpoints(job_id)
        if after:
            ids = [c.id for c in found]
            found = found[ids.index(after) + 1:] if after in ids else []
        return found[:limit], len(found) > limit

    async def list_events(self, job_id: str, limit: int,
                          after: str = "") -> tuple[list[JobEventRecord], bool]:
        await self.get(job_id, "job_id")
        return await self.store.list_events(job_id, limit, after)

    async def watch_events(self, job_id: str, after: str = "") -> AsyncIterator[JobEventRecord]:
        """Events oldest first from `after`, then as they happen, until the job ends or pauses."""
        await self.get(job_id, "job_id")
        while True:
            # Status first: a status change and its event are written together, so once the
            # job has ended, the events read after that include the last one.
            job = await self.get(job_id, "job_id")
            batch = await self.store.events_after(job_id, after, 500)
            for event in batch:
                yield event
            if batch:
                after = batch[-1].id
                continue
            if job.status in FINISHED or job.status == "paused":
                return
            await asyncio.sleep(WATCH_POLL_S)
