"""A training agent: takes jobs from the work queue, runs their ranks, records what they report.

The training service runs one in its own process by default; more run on GPU hosts with
`python -m services.training.agent`. Every agent shares the job store and the artifact store,
so a job can continue on any agent from its latest checkpoint.
"""

import asyncio
import contextlib
import json
import logging
import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from nats.aio.msg import Msg

from services.common.artifacts import ArtifactNotFound, ArtifactStore
from services.common.context import DEFAULT_PROJECT, project_context
from services.common.errors import TuneForgeError
from services.common.events import EventBus, JobCheckpoint
from services.common.ids import new_id, now
from services.training.accelerator import Accelerator
from services.training.clients import InferenceClient, RegistryClient
from services.training.launcher import RankProcess, kill_leftover_group
from services.training.lifecycle import Lifecycle
from services.training.multinode import TrainJobClient, multinode_launch
from services.training.multinode.ranks import HostRanks, TrainJobRanks
from services.training.progress import Progress
from services.training.queue import WorkQueue
from services.training.settings import TrainingSettings
from services.training.store import AgentRecord, CheckpointRecord, JobRecord, JobStore
from services.training.trainer.config import Hyperparameters
from services.training.workspace import Launch, Workspace, prepare, remove_model_copies
from tuneforge.v1 import registry_pb2

log = logging.getLogger(__name__)

# How long an agent waits on the queue before looking again (and noticing a shutdown).
POLL_S = 2.0
# A job this agent cannot run goes back to the queue for this long, for agents that can.
NOT_FITTING_DELAY_S = 5.0
TAIL_IN_ERROR = 12


@dataclass
class _Active:
    ws: Workspace
    process: RankProcess | None = None
    cancelled: bool = False


def fine_tuned_name(job: JobRecord) -> str:
    """OpenAI-style name: ft:<root base model>:<suffix>:<short job id>."""
    return f"ft:{job.model_root or job.model}:{job.suffix}:{job.id[-8:]}"


def log_key(job_id: str) -> str:
    """Where the ranks' log of a job is kept once a run of it ends."""
    return f"training/{job_id}/ranks.log"


def default_eval_prompts(path: Path, count: int) -> list[str]:
    """The first user message of the first `count` records of a canonical chat file."""
    prompts: list[str] = []
    if count <= 0 or not path.is_file():
        return prompts
    with open(path, encoding="utf-8") as f:
        for line in f:
            if len(prompts) >= count:
                break
            messages = json.loads(line).get("messages") or [] if line.strip() else []
            first = next((m["content"] for m in messages if m.get("role") == "user"), None)
            if first and first not in prompts:
                prompts.append(first)
    return prompts


class JobRunner:
    def __init__(self, store: JobStore, lifecycle: Lifecycle, events: EventBus,
                 registry: RegistryClient, inference: InferenceClient, artifacts: ArtifactStore,
                 accel: Accelerator, settings: TrainingSettings, queue: WorkQueue):
        self.store, self.lifecycle, self.events = store, lifecycle, events
        self.registry, self.inference, self.artifacts = registry, inference, artifacts
        self.accel, self.settings, self.queue = accel, settings, queue
        self.agent_id = settings.agent_id
        self.max_ranks = settings.max_ranks or accel.max_ranks
        # Messages are kept alive well within ack_wait; a row unchanged for longer is orphaned.
        self.heartbeat_s = settings.work_ack_wait_s / 3
        self.stale_s = settings.work_ack_wait_s * 2 / 3
        self._workers: list[asyncio.Task] = []
        self._active: dict[str, _Active] = {}

    async def start(self) -> None:
        """Queue again the jobs this agent ran before it restarted, then start taking jobs."""
        for job_id in await self.store.ids_with_status("running"):
            job = await self.store.get(job_id)
            if job is None or job.agent != self.agent_id:
                continue
            ws = Workspace(self.settings.work_root / job_id)
            if await asyncio.to_thread(kill_leftover_group, ws.pid_file, str(ws.run_config)):
                log.warning("job %s: killed ranks a previous process left running", job_id)
            with project_context(job.project or DEFAULT_PROJECT):
                moved = await self.lifecycle.move(
                    job_id, ("running",), "queued", "The training agent restarted; the job "
                    "was queued again and continues from its latest checkpoint", level="warn",
                    agent="", heartbeat_at=0)
            if moved is not None:
                await self.queue.submit(job_id)
        self.started_at = now()
        await self.advertise()
        self._workers = [asyncio.create_task(self._work(), name=f"training-worker-{i}")
                         for i in range(self.settings.max_concurrent_jobs)]
        self._workers.append(asyncio.create_task(self._advertise_forever(),
                                                 name="training-agent-advertise"))

    async def advertise(self) -> None:
        """Tell the service (and the other agents) this host's hardware and its jobs."""
        a = self.accel
        await self.store.advertise(AgentRecord(
            id=self.agent_id, started_at=self.started_at, seen_at=now(),
            cuda_devices=a.cuda_devices, gpu_memory_bytes=a.gpu_memory_bytes,
            host_memory_bytes=a.host_memory_bytes, cpu_count=a.cpu_count, bf16=a.bf16,
            max_ranks=self.max_ranks, max_jobs=self.settings.max_concurrent_jobs,
            running=sorted(self._active)))

    async def _advertise_forever(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                await self.advertise()
            except Exception:  # noqa: BLE001 - the next round tries again
                log.warning("training agent %s: could not advertise", self.agent_id,
                            exc_info=True)

    async def close(self) -> None:
        """Stop taking jobs and kill the ranks; their jobs stay running, to be taken again."""
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)

    def wake(self) -> None:
        """Nothing to do: agents block on the queue and wake with its messages."""

    async def stop(self, job_id: str) -> None:
        """Stop a job's ranks now if this agent runs it (the caller has marked it cancelled).

        Agents elsewhere notice the cancellation within control_poll_s.
        """
        active = self._active.get(job_id)
        if active is None:
            return
        active.cancelled = True
        if active.process is not None:
            await active.process.terminate(self.settings.cancel_grace_s)

    async def _work(self) -> None:
        while True:
            msg = await self.queue.next(POLL_S)
            if msg is None:
                continue
            try:
                await self._take(msg)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one job's failure must not stop the agent
                log.exception("training agent: error on message %r", msg.data)

    def fits(self, job: JobRecord) -> bool:
        hp = job.hyperparameters
        if hp.get("num_nodes", 1) > 1:  # ranks on other hosts: this one only launches them
            return self.settings.cluster.backend != "local"
        return hp.get("num_gpus", 1) <= self.max_ranks

    async def _take(self, msg: Msg) -> None:
        job_id = msg.data.decode()
        job = await self.store.claimable(job_id, now() - self.stale_s)
        if job is None:
            # Finished, paused, gone, or alive on another agent: this message is spent.
            await msg.ack()
            return
        if not self.fits(job):
            await msg.nak(delay=NOT_FITTING_DELAY_S)
            return
        orphaned_by = job.agent if job.status == "running" else ""
        claimed = await self.store.claim(job, self.agent_id, now())
        if claimed is None:
            await msg.ack()
            return
        if orphaned_by:
            await self.lifecycle.note(
                job_id, f"Agent {orphaned_by} stopped reporting; agent {self.agent_id} takes "
                        "the job over from its latest checkpoint", level="warn")
        # Its events, logs and calls to other services carry the job's project.
        with project_context(claimed.project or DEFAULT_PROJECT):
            await self.lifecycle.record(claimed, f"Fine-tuning job started on agent "
                                                 f"{self.agent_id}")
            await self._run(claimed, msg)

    async def _run(self, job: JobRecord, msg: Msg) -> None:
        ws = Workspace(self.settings.work_root / job.id)
        active = self._active[job.id] = _Active(ws)
        keepalive = asyncio.create_task(self._keepalive(job.id, msg, active))
        try:
            await self._train(job, ws, active)
        except TuneForgeError as e:
            await self._fail(job, {"code": e.code.value, "message": e.message,
                                   "param": e.param or ""})
        except ArtifactNotFound as e:
            await self._fail(job, {"code": "internal", "message": f"An input of the job is "
                                   f"missing from the artifact store: {e}", "param": ""})
        except asyncio.CancelledError:
            # Shutting down: no ack, so the job goes to an agent again (this one, restarted,
            # or another after ack_wait).
            raise
        except Exception as e:  # noqa: BLE001 - recorded on the job
            log.exception("job %s failed", job.id)
            await self._fail(job, {"code": "internal", "message": f"{type(e).__name__}: {e}",
                                   "param": ""})
        finally:
            keepalive.cancel()
            await asyncio.gather(keepalive, return_exceptions=True)
            del self._active[job.id]
            await self._keep_log(job, ws)
            if not self.settings.keep_model_copies:
                await asyncio.to_thread(remove_model_copies, ws)
        with contextlib.suppress(Exception):
            await msg.ack()  # succeeded, failed, paused or cancelled: this message is spent

    async def _keep_log(self, job: JobRecord, ws: Workspace) -> None:
        """The ranks' log in the artifact store, readable wherever the job ran."""
        if ws.log_file.is_file():
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.artifacts.put_file, log_key(job.id), ws.log_file)

    async def _keepalive(self, job_id: str, msg: Msg, active: _Active) -> None:
        """Keep the message and the job's heartbeat fresh; act on cancel and pause."""
        loop = asyncio.get_running_loop()
        last_beat = loop.time()
        while True:
            await asyncio.sleep(self.settings.control_poll_s)
            if loop.time() - last_beat >= self.heartbeat_s:
                last_beat = loop.time()
                with contextlib.suppress(Exception):  # the row still tells the truth
                    await msg.in_progress()
                job = await self.store.heartbeat(job_id, self.agent_id, now())
            else:
                job = await self.store.get(job_id)
            if job is None or job.agent != self.agent_id or job.status != "running":
                # Cancelled, or taken over by another agent that thought this one dead.
                active.cancelled = True
                if active.process is not None:
                    await active.process.terminate(self.settings.cancel_grace_s)
                return
            if job.control == "pause" and not active.ws.control_file.exists():
                active.ws.control_file.touch()

    async def _train(self, job: JobRecord, ws: Workspace, active: _Active) -> None:
        await self.lifecycle.note(job.id, "Downloading the base model and the training file"
                                  + (f", resuming from checkpoint {job.resume['tag']}"
                                     if job.resume else ""))
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
        proc = active.process = await self._start_ranks(job, ws, launch)
        progress = Progress(job.id, self.lifecycle, self.events,
                            self.settings.metrics_publish_interval_s)
        try:
            if active.cancelled:  # cancelled while the process was starting
                await proc.terminate(self.settings.cancel_grace_s)
            async for line in proc.stdout_lines():
                msg = await progress.handle(line)
                if msg is None:
                    proc.write_log(line)
                elif msg["type"] == "checkpoint" and not active.cancelled:
                    await self._checkpoint(job, ws, msg)
            code = await proc.wait()
        finally:
            # Also on shutdown (CancelledError): no rank may outlive its runner.
            await proc.ensure_stopped(self.settings.cancel_grace_s)
            proc.close()
        if active.cancelled:
            return
        if code == 0 and progress.paused_at is not None:
            await self.lifecycle.move(
                job.id, ("running",), "paused", f"The job was paused after step "
                f"{progress.paused_at}; resume it to continue from there",
                control="", agent="", heartbeat_at=0, estimated_finish=0)
            return
        if code != 0 or progress.result is None:
            await self._fail(job, progress.error or self._crash(code, proc))
            return
        comparisons = await self._compare(job, ws, active)
        if active.cancelled:
            return
        await self._publish_model(job, ws, progress.result, comparisons, active)

    async def _start_ranks(self, job: JobRecord, ws: Workspace, launch: Launch):
        """torchrun on this host, or the job's multi-node launch (hostfile or TrainJob)."""
        hp = Hyperparameters.model_validate(job.hyperparameters)
        env = {**os.environ, **launch.env}
        if hp.num_nodes == 1:
            return await RankProcess.start(launch.argv, env, ws.root, ws.log_file, ws.pid_file)
        cluster = self.settings.cluster
        plan = multinode_launch(job.id, hp, ws.run_config, cluster, self.settings.python,
                                env=launch.env)
        await self.lifecycle.note(job.id, f"Launching on {hp.num_nodes} nodes through "
                                          f"{plan.backend}",
                                  data_json=json.dumps({"processes": plan.processes,
                                                        "trainjob": plan.trainjob}))
        if plan.trainjob is not None:
            client = await asyncio.to_thread(TrainJobClient.connect, cluster)
            return await TrainJobRanks.start(client, plan.trainjob, ws.log_file)
        return await HostRanks.start(plan, env, ws.root, ws.log_file, ws.pid_file)

    async def _checkpoint(self, job: JobRecord, ws: Workspace, msg: dict) -> None:
        """Keep the state to resume from; register a deployable checkpoint; prune old ones."""
        step, tag = int(msg["step"]), str(msg["tag"])
        state_prefix = f"training/{job.id}/state/{tag}"
        await asyncio.to_thread(self.artifacts.put_dir, state_prefix, Path(msg["state_dir"]))
        previous = (await self.store.get(job.id)).resume
        await self.store.update(job.id, resume={"tag": tag, "prefix": state_prefix,
                                                "step": step})
        if previous and previous["prefix"] != state_prefix:
            await asyncio.to_thread(self.artifacts.delete_prefix, previous["prefix"] + "/")
        for old in ws.state_dir.iterdir():  # only the latest state is ever resumed from
            if old.is_dir() and old.name != tag:
                await asyncio.to_thread(shutil.rmtree, old, True)
        if not msg.get("model_dir"):
            return  # a pause: state only
        metrics = {k: float(v) for k, v in (msg.get("metrics") or {}).items() if v is not None}
        prefix = f"models/{job.id}/ckpt-step-{step}"
        await asyncio.to_thread(self.artifacts.put_dir, prefix, Path(msg["model_dir"]))
        await asyncio.to_thread(shutil.rmtree, msg["model_dir"], True)
        name = f"{fine_tuned_name(job)}:ckpt-step-{step}"
        model = await self.registry.register_model(self._registration(job, name, prefix,
                                                                       metrics))
        if model.status == "failed":
            await self.lifecycle.note(job.id, f"Checkpoint at step {step} was not registered: "
                                              f"{model.error.message}", level="warn")
            return
        await self.store.add_checkpoint(CheckpointRecord(
            new_id("ftckpt"), job.id, now(), step, name, prefix, metrics))
        shown = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        await self.lifecycle.note(job.id, f"Checkpoint at step {step}: {name} ({shown})",
                                  data_json=json.dumps({"step": step, "model": name,
                                                        "metrics": metrics}))
        await self.events.publish(JobCheckpoint(
            job_id=job.id, model=job.model, status="running", step=step,
            fine_tuned_model_checkpoint=name, metrics=metrics))
        await self._prune(job)

    async def _prune(self, job: JobRecord) -> None:
        """Delete the oldest checkpoints beyond save_total_limit (models and files)."""
        limit = job.hyperparameters.get("save_total_limit")
        if not limit:
            return
        for old in (await self.store.checkpoints(job.id))[limit:]:
            try:
                await self.registry.delete_model(old.model)
            except TuneForgeError as e:
                if e.code.value not in ("model_not_found", "not_found"):
                    await self.lifecycle.note(job.id, f"Kept checkpoint {old.model} beyond "
                                              f"save_total_limit: {e.message}", level="warn")
                    continue
            await asyncio.to_thread(self.artifacts.delete_prefix, old.artifact_prefix + "/")
            await self.store.delete_checkpoint(old.id)
            await self.lifecycle.note(job.id, f"Deleted checkpoint {old.model} "
                                              f"(save_total_limit={limit})")

    async def _compare(self, job: JobRecord, ws: Workspace, active: _Active) -> list[dict]:
        """The before/after answers to the job's eval prompts; [] when there are none."""
        prompts = job.eval_prompts or default_eval_prompts(
            ws.valid_file if job.validation_file_key else ws.data_file,
            self.settings.eval_max_prompts)
        if not prompts:
            return []
        await self.lifecycle.note(job.id, f"Asking the base and the fine-tuned model "
                                          f"{len(prompts)} prompt(s) to compare them")
        prompts_file = ws.root / "eval_prompts.json"
        prompts_file.write_text(json.dumps(prompts, ensure_ascii=False), encoding="utf-8")
        argv = [self.settings.python, "-m", "services.training.trainer.compare",
                "--base", str(ws.base_dir), "--tuned", str(ws.output_dir),
                "--prompts", str(prompts_file),
                "--max-new-tokens", str(self.settings.eval_max_new_tokens)]
        proc = active.process = await RankProcess.start(
            argv, {**os.environ, **self.accel.rank_env(1)}, ws.root, ws.log_file, ws.pid_file)
        result: list[dict] = []
        try:
            async for line in proc.stdout_lines():
                if line.startswith('{"type": "comparisons"'):
                    result = json.loads(line)["comparisons"]
                else:
                    proc.write_log(line)
            code = await proc.wait()
        finally:
            await proc.ensure_stopped(self.settings.cancel_grace_s)
            proc.close()
        if code != 0 and not active.cancelled:
            tail = "\n".join(list(proc.tail)[-TAIL_IN_ERROR:])
            await self.lifecycle.note(job.id, f"The before/after comparison failed (exit code "
                                              f"{code}); the model is kept:\n{tail}",
                                      level="warn")
        return result

    @staticmethod
    def _crash(code: int, proc: RankProcess) -> dict:
        tail = "\n".join(list(proc.tail)[-TAIL_IN_ERROR:])
        return {"code": "internal", "param": "",
                "message": f"Training exited with code {code}. Last lines of its log:\n{tail}"}

    @staticmethod
    def _registration(job: JobRecord, name: str, prefix: str,
                      metrics: dict[str, float]) -> registry_pb2.RegisterModelRequest:
        return registry_pb2.RegisterModelRequest(
            id=name, kind="fine-tuned", parent=job.model, artifact_prefix=prefix,
            owned_by="user", lineage=registry_pb2.Lineage(
                base_model=job.model, training_file=job.training_file,
                training_file_sha256=job.training_file_sha256, job_id=job.id,
                validation_file=job.validation_file,
                hyperparameters_json=json.dumps(job.hyperparameters), metrics=metrics))

    async def _publish_model(self, job: JobRecord, ws: Workspace, result: dict,
                             comparisons: list[dict], active: _Active) -> None:
        await self.lifecycle.note(job.id, "Uploading the fine-tuned model")
        prefix = f"models/{job.id}"
        await asyncio.to_thread(self.artifacts.put_dir, prefix, ws.output_dir)
        if active.cancelled:
            return
        name = fine_tuned_name(job)
        metrics = {"train_loss": float(result.get("train_loss", 0.0)),
                   **{k: float(v) for k, v in (result.get("metrics") or {}).items()
                      if v is not None}}
        model = await self.registry.register_model(self._registration(job, name, prefix,
                                                                       metrics))
        if model.status == "failed":
            await self._fail(job, {
                "code": model.error.code or "internal", "param": model.error.param,
                "message": f"The registry refused the fine-tuned model: {model.error.message}"})
            return
        await self.lifecycle.note(job.id, f"New fine-tuned model created: {name}")
        deployment = await self._automations(job, model)
        await self.lifecycle.move(job.id, ("running",), "succeeded",
                                  "The job has successfully completed",
                                  event_fields={"fine_tuned_model": name,
                                                "trained_tokens": int(
                                                    result.get("trained_tokens", 0))},
                                  fine_tuned_model=name, deployment=deployment,
                                  trained_tokens=int(result.get("trained_tokens", 0)),
                                  evaluation={"metrics": metrics, "comparisons": comparisons},
                                  estimated_finish=0)

    async def _automations(self, job: JobRecord, model) -> str:
        """The job's alias and auto_deploy options; a failure is reported, the model is kept."""
        if job.alias:
            try:
                await self.registry.set_alias(model.name or model.id, job.alias, model.id)
                await self.lifecycle.note(job.id, f"Moved alias {model.name}@{job.alias} to "
                                                  f"{model.id}")
            except TuneForgeError as e:
                await self.lifecycle.note(job.id, f"Could not move alias {job.alias}: "
                                                  f"{e.message}", level="warn")
        if not job.auto_deploy:
            return ""
        try:
            deployment = await self.inference.deploy(model.id)
        except TuneForgeError as e:
            await self.lifecycle.note(job.id, f"Could not deploy {model.id}: {e.message}",
                                      level="warn")
            return ""
        await self.lifecycle.note(job.id, f"Deploying {model.id} as {deployment.id}")
        return deployment.id

    async def _fail(self, job: JobRecord, error: dict) -> None:
        await self.lifecycle.move(job.id, ("running",), "failed",
                                  f"The job failed: {error['message']}", level="error",
                                  event_fields={"error": error}, error=error,
                                  estimated_finish=0)
