"""Checkpoints, validation, before/after answers, pause/resume and agents that die mid-job."""

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from services.common.errors import TuneForgeError
from services.registry.tiny_model import EXAMPLE_DATASET, build_tiny_model
from services.training.workspace import Workspace
from tests.integration.training_stack import services, until
from tuneforge.v1 import registry_pb2
from tuneforge.v1 import training_pb2 as pb


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("base") / "tiny-qwen2")


def examples(n: int) -> list[dict]:
    return json.loads(EXAMPLE_DATASET.read_text(encoding="utf-8"))[:n]


def metric_steps(events: list[pb.JobEvent]) -> list[int]:
    return [json.loads(e.data_json)["step"] for e in events if e.type == "metrics"]


async def test_checkpoints_validation_and_before_after_answers(tmp_path, tiny_dir, nats_url,
                                                               event_prefix, database_url):
    async with services(tmp_path, nats_url, event_prefix, database_url, tiny_dir.parent) as s:
        train, valid = await s.upload(examples(8)), await s.upload(examples(12)[8:])
        job = await s.training.CreateJob(pb.CreateJobRequest(
            model="tiny-qwen2", training_file=train.id, validation_file=valid.id, seed=3,
            eval_prompts=["你是谁"], auto_deploy=True, alias="latest",
            hyperparameters=pb.Hyperparameters(
                n_epochs=4, batch_size=2, learning_rate=3e-3, model_max_length=128,
                save_strategy="steps", save_steps=4, save_total_limit=2)))
        watched = []

        async def watch():
            async for event in s.training.WatchJobEvents(pb.WatchJobEventsRequest(
                    job_id=job.id)):
                watched.append(event.message)
        watcher = asyncio.create_task(watch())
        done = await s.wait_for(job.id)
        assert done.status == "succeeded", done.error.message
        await asyncio.wait_for(watcher, 10)  # the stream ends with the job

        events = await s.job_events(job.id)
        assert watched == [e.message for e in events]
        assert (done.step, done.total_steps) == (16, 16)

        # Checkpoints at steps 4, 8 and 12; save_total_limit keeps the last two.
        ckpts = (await s.training.ListJobCheckpoints(
            pb.ListJobCheckpointsRequest(job_id=job.id))).data
        name = done.fine_tuned_model
        assert [c.fine_tuned_model_checkpoint for c in ckpts] == [
            f"{name}:ckpt-step-12", f"{name}:ckpt-step-8"]
        assert [c.step_number for c in ckpts] == [12, 8]
        assert {"train_loss", "train_mean_token_accuracy", "valid_loss",
                "valid_mean_token_accuracy"} <= set(ckpts[0].metrics)
        model = await s.registry.GetModel(registry_pb2.GetModelRequest(id=ckpts[0]
                                                                       .fine_tuned_model_checkpoint))
        assert (model.status, model.checkpoint_step, model.lineage.job_id) == ("ready", 12, job.id)
        with pytest.raises(grpc.aio.AioRpcError):
            await s.registry.GetModel(registry_pb2.GetModelRequest(id=f"{name}:ckpt-step-4"))
        messages = [e.message for e in events]
        assert f"Deleted checkpoint {name}:ckpt-step-4 (save_total_limit=2)" in messages

        # Validation after training and the seed's before/after comparison.
        assert done.validation_file == valid.id
        assert done.evaluation.metrics["valid_loss"] > 0
        assert 0 <= done.evaluation.metrics["valid_mean_token_accuracy"] <= 1
        (comparison,) = done.evaluation.comparisons
        assert comparison.prompt == "你是谁" and comparison.fine_tuned
        assert comparison.base != comparison.fine_tuned  # it learned something

        # The job's automations: the alias moved and a deployment asked for.
        final = await s.registry.GetModel(registry_pb2.GetModelRequest(id=name))
        assert "latest" in final.aliases
        (deployment,) = s.inference.deployments
        assert (deployment.model, done.deployment) == (name, deployment.id)

        async def checkpoint_events():
            found = [e for e in s.events if type(e).__name__ == "JobCheckpoint"
                     and e.job_id == job.id]
            return found if len(found) == 3 else None
        found = await until(checkpoint_events, 5, "JobCheckpoint events")
        assert [e.step for e in found] == [4, 8, 12]


async def test_pause_then_resume_continues_the_step_count(tmp_path, tiny_dir, nats_url,
                                                          event_prefix, database_url):
    async with services(tmp_path, nats_url, event_prefix, database_url, tiny_dir.parent,
                        eval_max_prompts=0) as s:
        f = await s.upload(examples(8))
        job = await s.training.CreateJob(pb.CreateJobRequest(
            model="tiny-qwen2", training_file=f.id, hyperparameters=pb.Hyperparameters(
                n_epochs=10, batch_size=2, learning_rate=1e-3, model_max_length=128)))

        async def stepping():
            return metric_steps(await s.job_events(job.id))
        await until(stepping, 120, "the first training step")
        asked = await s.training.PauseJob(pb.PauseJobRequest(id=job.id))
        assert asked.status == "running"
        paused = await s.wait_for(job.id, ("paused",), timeout=60)
        assert 0 < paused.step < paused.total_steps == 40
        before = metric_steps(await s.job_events(job.id))
        assert before[-1] == paused.step

        with pytest.raises(grpc.aio.AioRpcError) as e:
            await s.training.PauseJob(pb.PauseJobRequest(id=job.id))
        assert TuneForgeError.from_rpc_error(e.value).code == "conflict"

        resumed = await s.training.ResumeJob(pb.ResumeJobRequest(id=job.id))
        assert resumed.status == "queued"
        done = await s.wait_for(job.id)
        assert done.status == "succeeded", done.error.message
        events = await s.job_events(job.id)
        # One metrics event per step over both runs: the count continued where it stopped.
        assert metric_steps(events) == list(range(1, 41))
        messages = [e.message for e in events]
        assert f"The job was paused after step {paused.step}; resume it to continue from " \
               "there" in messages
        assert any(m.startswith(f"Resumed from checkpoint step-{paused.step}") for m in messages)
        names = [type(e).__name__ for e in s.events if getattr(e, "job_id", "") == job.id]
        assert "JobPaused" in names


def agent_process(settings, agent_id: str) -> subprocess.Popen:
    """A training agent in its own process, configured like the stack's training service."""
    env = {**os.environ,
           "TUNEFORGE_DATA_DIR": str(settings.data_dir),
           "TUNEFORGE_ARTIFACT_DIR": str(settings.artifact_dir),
           "TUNEFORGE_NATS_URL": settings.nats_url,
           "TUNEFORGE_EVENTS_SUBJECT_PREFIX": settings.events_subject_prefix,
           "TUNEFORGE_EVENTS_STREAM": settings.events_stream,
           "TUNEFORGE_REGISTRY_ADDR": settings.registry_addr,
           "TUNEFORGE_INFERENCE_ADDR": settings.inference_addr,
           "TUNEFORGE_TRAINING_DATABASE_URL": settings.database_url,
           "TUNEFORGE_TRAINING_AGENT_ID": agent_id,
           "TUNEFORGE_TRAINING_WORK_ACK_WAIT_S": str(settings.work_ack_wait_s),
           "TUNEFORGE_TRAINING_EVAL_MAX_PROMPTS": "0",
           "TUNEFORGE_TRAINING_METRICS_PUBLISH_INTERVAL_S": "0"}
    return subprocess.Popen([sys.executable, "-m", "services.training.agent"], env=env,
                            start_new_session=True)


async def test_a_killed_agent_loses_no_job_another_agent_resumes_it(tmp_path, tiny_dir,
                                                                    nats_url, event_prefix,
                                                                    database_url):
    async with services(tmp_path, nats_url, event_prefix, database_url, tiny_dir.parent,
                        run_agent=False, work_ack_wait_s=3) as s:
        first = agent_process(s.settings, "agent-a")
        second = None
        try:
            f = await s.upload(examples(8))
            job = await s.training.CreateJob(pb.CreateJobRequest(
                model="tiny-qwen2", training_file=f.id, hyperparameters=pb.Hyperparameters(
                    n_epochs=6, batch_size=2, learning_rate=1e-3, model_max_length=128,
                    save_strategy="steps", save_steps=3)))

            async def checkpointed():
                return [e for e in await s.job_events(job.id)
                        if e.message.startswith("Checkpoint at step")]
            await until(checkpointed, 180, "a first checkpoint")
            # The host dies: the agent and its ranks at once.
            ws = Workspace(s.settings.work_root / job.id)
            os.killpg(int(ws.pid_file.read_text()), signal.SIGKILL)
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
            assert (await s.training.GetJob(pb.GetJobRequest(id=job.id))).status == "running"

            agents = (await s.training.ListAgents(pb.ListAgentsRequest())).data
            assert [a.id for a in agents] == ["agent-a"] and agents[0].max_ranks >= 1
            assert list(agents[0].running) == [job.id]

            second = agent_process(s.settings, "agent-b")
            done = await s.wait_for(job.id, timeout=240)
            assert done.status == "succeeded", done.error.message
            messages = [e.message for e in await s.job_events(job.id)]
            assert "Agent agent-a stopped reporting; agent agent-b takes the job over from " \
                   "its latest checkpoint" in messages
            resumed = [m for m in messages if m.startswith("Resumed from checkpoint step-")]
            assert resumed, messages
            step = int(resumed[0].split("step-")[1].split(":")[0])
            steps = metric_steps(await s.job_events(job.id))
            # Steps after the checkpoint ran again on agent-b; the run still ends at 24.
            assert steps[-1] == done.total_steps == 24 and step in steps
            assert steps[steps.index(step) + 1:].count(step + 1) >= 1
            # agent-b's run kept its rank log in the artifact store: readable from the service.
            logs = await s.training.GetJobLogs(pb.GetJobLogsRequest(job_id=job.id,
                                                                    tail_lines=5000))
            assert "Traceback" not in logs.text and logs.text.strip()
        finally:
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(20)
