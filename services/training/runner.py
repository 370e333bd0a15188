"""Runs queued jobs: prepare the folder, launch the ranks, follow them, publish the result."""

import asyncio
import contextlib
import json
import logging
import os
import shlex
from dataclasses import dataclass

from services.common.artifacts import ArtifactNotFound, ArtifactStore
from services.common.errors import TuneForgeError
from services.common.events import EventBus
from services.training.accelerator import Accelerator
from services.training.clients import RegistryClient
from services.training.launcher import RankProcess, group_alive, kill_leftover_group
from services.training.lifecycle import Lifecycle
from services.training.progress import Progress
from services.training.settings import TrainingSettings
from services.training.store import JobRecord, JobStore
from services.training.workspace import Workspace, prepare, remove_model_copies
from tuneforge.v1 import registry_pb2

log = logging.getLogger(__name__)

# Checks the queue this often even without a wake-up, e.g. for jobs another replica queued.
POLL_S = 5.0
TAIL_IN_ERROR = 12


@dataclass
class _Active:
    process: RankProcess | None = None
    cancelled: bool = False


def fine_tuned_name(job: JobRecord) -> str:
    """OpenAI-style name: ft:<root base model>:<suffix>:<short job id>."""
    return f"ft:{job.model_root or job.model}:{job.suffix}:{job.id[-8:]}"


class JobRunner:
    def __init__(self, store: JobStore, lifecycle: Lifecycle, events: EventBus,
                 registry: RegistryClient, artifacts: ArtifactStore, accel: Accelerator,
                 settings: TrainingSettings):
        self.store, self.lifecycle, self.events = store, lifecycle, events
        self.registry, self.artifacts = registry, artifacts
        self.accel, self.settings = accel, settings
        self._wakeup = asyncio.Event()
        self._workers: list[asyncio.Task] = []
        self._active: dict[str, _Active] = {}

    async def start(self) -> None:
        """Queue again the jobs a previous process left running, then start the workers."""
        for job_id in await self.store.ids_with_status("running"):
            ws = Workspace(self.settings.work_root / job_id)
            if await asyncio.to_thread(kill_leftover_group, ws.pid_file, str(ws.run_config)):
                log.warning("job %s: killed ranks a previous process left running", job_id)
            await self.lifecycle.move(job_id, ("running",), "queued",
                                      "The training service restarted; the job was queued again",
                                      level="warn")
        self._workers = [asyncio.create_task(self._work(), name=f"training-worker-{i}")
                         for i in range(self.settings.max_concurrent_jobs)]

    async def close(self) -> None:
        """Stop the workers and kill their ranks; their jobs stay running, to be re-queued."""
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)

    def wake(self) -> None:
        self._wakeup.set()

    async def stop(self, job_id: str) -> None:
        """Stop a job's ranks (the caller has marked it cancelled) and wait until they are gone."""
        active = self._active.get(job_id)
        if active is None:
            return
        active.cancelled = True
        if active.process is not None:
            await active.process.terminate(self.settings.cancel_grace_s)

    async def _work(self) -> None:
        while True:
            self._wakeup.clear()
            job = await self._claim()
            if job is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), POLL_S)
                continue
            try:
                await self._run(job)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one job's failure must not stop the worker
                log.exception("job %s: runner error", job.id)

    async def _claim(self) -> JobRecord | None:
        while (job := await self.store.oldest_queued()) is not None:
            claimed = await self.lifecycle.move(job.id, ("queued",), "running",
                                                "Fine-tuning job started")
            if claimed is not None:
                return claimed
        return None

    async def _run(self, job: JobRecord) -> None:
        ws = Workspace(self.settings.work_root / job.id)
        active = self._active[job.id] = _Active()
        try:
            await self._train(job, ws, active)
        except TuneForgeError as e:
            await self._fail(job, {"code": e.code.value, "message": e.message,
                                   "param": e.param or ""})
        except ArtifactNotFound as e:
            await self._fail(job, {"code": "internal", "message": f"An input of the job is "
                                   f"missing from the artifact store: {e}", "param": ""})
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - recorded on the job
            log.exception("job %s failed", job.id)
            await self._fail(job, {"code": "internal", "message": f"{type(e).__name__}: {e}",
                                   "param": ""})
        finally:
            del self._active[job.id]
            if not self.settings.keep_model_copies:
                await asyncio.to_thread(remove_model_copies, ws)

    async def _train(self, job: JobRecord, ws: Workspace, active: _Active) -> None:
        await self.lifecycle.note(job.id, "Downloading the base model and the training file")
        launch = await asyncio.to_thread(prepare, ws, job, self.artifacts, self.accel,
                                         self.settings.python)
        if active.cancelled:
            return
        hp = job.hyperparameters
        await self.lifecycle.note(
            job.id, f"Launching {hp['num_gpus']} rank(s), DeepSpeed ZeRO-{hp['zero_stage']}: "
                    f"{shlex.join(launch.argv)}",
            data_json=json.dumps({"command": launch.argv, "env": launch.env,
                                  "deepspeed_config": launch.deepspeed_config,
                                  "work_dir": str(ws.root)}))
        proc = active.process = await RankProcess.start(
            launch.argv, {**os.environ, **launch.env}, ws.root, ws.log_file, ws.pid_file)
        progress = Progress(job.id, self.lifecycle, self.events,
                            self.settings.metrics_publish_interval_s)
        try:
            if active.cancelled:  # cancelled while the process was starting
                await proc.terminate(self.settings.cancel_grace_s)
            async for line in proc.stdout_lines():
                if not await progress.handle(line):
                    proc.write_log(line)
            code = await proc.wait()
        finally:
            # Also on shutdown (CancelledError): no rank may outlive its runner.
            if group_alive(proc.pgid):
                await proc.terminate(self.settings.cancel_grace_s)
            proc.close()
        if active.cancelled:
            return
        if code != 0 or progress.result is None:
            await self._fail(job, progress.error or self._crash(code, proc))
            return
        await self._publish_model(job, ws, progress.result, active)

    @staticmethod
    def _crash(code: int, proc: RankProcess) -> dict:
        tail = "\n".join(list(proc.tail)[-TAIL_IN_ERROR:])
        return {"code": "internal", "param": "",
                "message": f"Training exited with code {code}. Last lines of its log:\n{tail}"}

    async def _publish_model(self, job: JobRecord, ws: Workspace, result: dict,
                             active: _Active) -> None:
        await self.lifecycle.note(job.id, "Uploading the fine-tuned model")
        prefix = f"models/{job.id}"
        await asyncio.to_thread(self.artifacts.put_dir, prefix, ws.output_dir)
        if active.cancelled:
            return
        name = fine_tuned_name(job)
        loss = float(result.get("train_loss", 0.0))
        model = await self.registry.register_model(registry_pb2.RegisterModelRequest(
            id=name, kind="fine-tuned", parent=job.model, artifact_prefix=prefix,
            owned_by="user", lineage=registry_pb2.Lineage(
                base_model=job.model, training_file=job.training_file,
                training_file_sha256=job.training_file_sha256, job_id=job.id,
                hyperparameters_json=json.dumps(job.hyperparameters),
                metrics={"train_loss": loss})))
        if model.status == "failed":
            await self._fail(job, {
                "code": model.error.code or "internal", "param": model.error.param,
                "message": f"The registry refused the fine-tuned model: {model.error.message}"})
            return
        await self.lifecycle.note(job.id, f"New fine-tuned model created: {name}")
        await self.lifecycle.move(job.id, ("running",), "succeeded",
                                  "The job has successfully completed",
                                  event_fields={"fine_tuned_model": name},
                                  fine_tuned_model=name,
                                  trained_tokens=int(result.get("trained_tokens", 0)))

    async def _fail(self, job: JobRecord, error: dict) -> None:
        await self.lifecycle.move(job.id, ("running",), "failed",
                                  f"The job failed: {error['message']}", level="error",
                                  event_fields={"error": error}, error=error)
