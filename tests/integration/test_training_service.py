"""The training service end to end: real gRPC services, NATS, torchrun ranks with DeepSpeed."""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from services.common import db
from services.common.artifacts import LocalArtifactStore
from services.common.errors import TuneForgeError
from services.registry.tiny_model import EXAMPLE_DATASET, build_tiny_model
from services.training.server import MIGRATIONS
from services.training.store import JobRecord, JobStore
from services.training.workspace import Workspace
from tests.integration.training_stack import services, until
from tuneforge.v1 import registry_pb2
from tuneforge.v1 import training_pb2 as pb


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("base") / "tiny-qwen2")


@pytest.fixture
async def stack(tmp_path, tiny_dir, nats_url, event_prefix, database_url):
    async with services(tmp_path, nats_url, event_prefix, database_url, tiny_dir.parent,
                        max_ranks=2) as s:
        yield s


def examples(n: int) -> list[dict]:
    return json.loads(EXAMPLE_DATASET.read_text(encoding="utf-8"))[:n]


def job_processes(marker: str) -> list[int]:
    """Pids of live (non-zombie) processes whose command line mentions `marker`."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker in cmdline and state != "Z":
            pids.append(int(proc.name))
    return pids


async def test_zero3_job_on_two_ranks_trains_and_registers_a_model_that_loads(stack, tmp_path):
    f = await stack.upload(examples(8))
    job = await stack.training.CreateJob(pb.CreateJobRequest(
        model="tiny-qwen2", training_file=f.id, suffix="xiaozhi", seed=7,
        hyperparameters=pb.Hyperparameters(n_epochs=3, batch_size=4, num_gpus=2, zero_stage=3,
                                           learning_rate=3e-3, model_max_length=128)))
    assert job.status == "queued" and job.hyperparameters.lr_scheduler_type == "cosine"

    done = await stack.wait_for(job.id)
    assert done.status == "succeeded", done.error.message
    assert done.fine_tuned_model == f"ft:tiny-qwen2:xiaozhi:{job.id[-8:]}"
    assert done.trained_tokens > 0 and done.finished_at >= done.created_at

    events = await stack.job_events(job.id)
    metrics = [json.loads(e.data_json) for e in events if e.type == "metrics"]
    assert [m["step"] for m in metrics] == list(range(1, 7))
    assert metrics[-1]["loss"] < metrics[0]["loss"]
    assert events[-1].message == "The job has successfully completed"
    launch = next(json.loads(e.data_json) for e in events if e.message.startswith("Launching"))
    assert launch["deepspeed_config"]["zero_optimization"]["stage"] == 3
    assert "--nproc_per_node=2" in launch["command"]
    assert (Path(launch["work_dir"]) / "ds_config.json").is_file()

    model = await stack.registry.GetModel(registry_pb2.GetModelRequest(id=done.fine_tuned_model))
    assert (model.kind, model.parent, model.artifact_prefix, model.status) == (
        "fine-tuned", "tiny-qwen2", f"models/{job.id}", "ready")
    assert (model.lineage.job_id, model.lineage.training_file) == (job.id, f.id)
    assert model.lineage.training_file_sha256 == f.sha256
    assert json.loads(model.lineage.hyperparameters_json)["zero_stage"] == 3
    assert model.lineage.metrics["train_loss"] == pytest.approx(metrics[-1]["loss"], rel=1e-4)

    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "downloaded"
    LocalArtifactStore(stack.settings.artifact_root).get_dir(model.artifact_prefix, out)
    loaded = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert loaded.num_parameters() == model.num_parameters
    assert tokenizer.chat_template and (out / "generation_config.json").is_file()

    async def kinds():
        names = [type(e).__name__ for e in stack.events if getattr(e, "job_id", "") == job.id]
        return names if "JobSucceeded" in names else None
    names = await until(kinds, 5, "JobSucceeded on NATS")
    assert [k for k in names if k != "JobMetrics"] == ["JobQueued", "JobRunning", "JobSucceeded"]
    assert names.count("JobMetrics") == 6


async def test_cancelling_a_running_job_leaves_no_rank_alive(stack):
    f = await stack.upload(examples(8))
    job = await stack.training.CreateJob(pb.CreateJobRequest(
        model="tiny-qwen2", training_file=f.id,
        hyperparameters=pb.Hyperparameters(n_epochs=1000, batch_size=2, num_gpus=2,
                                           learning_rate=1e-3, model_max_length=64)))
    marker = str(stack.settings.work_root / job.id)

    async def training_started():
        return any(e.type == "metrics" for e in await stack.job_events(job.id))
    await until(training_started, 120, "the first training step")
    pids = job_processes(marker)
    assert len(pids) >= 3, "torchrun and two ranks are running"

    cancelled = await stack.training.CancelJob(pb.CancelJobRequest(id=job.id))
    assert cancelled.status == "cancelled"
    assert job_processes(marker) == []
    assert [p for p in pids if os.path.exists(f"/proc/{p}") and
            Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"] == []

    final = await stack.training.GetJob(pb.GetJobRequest(id=job.id))
    assert final.status == "cancelled" and not final.error.code
    assert (await stack.job_events(job.id))[-1].message == "The job was cancelled"

    async def cancelled_event():
        return "JobCancelled" in [type(e).__name__ for e in stack.events]
    await until(cancelled_event, 5, "JobCancelled on NATS")

    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stack.training.CancelJob(pb.CancelJobRequest(id=job.id))
    err = TuneForgeError.from_rpc_error(e.value)
    assert (e.value.code(), err.code) == (grpc.StatusCode.FAILED_PRECONDITION, "conflict")
    assert "has status 'cancelled'" in err.message


async def test_job_whose_examples_leave_nothing_to_train_fails_with_invalid_file(stack):
    long_prompts = [{"conversations": [{"from": "user", "value": "请问 " * 60},
                                       {"from": "assistant", "value": "好的"}]}] * 2
    f = await stack.upload(long_prompts)
    job = await stack.training.CreateJob(pb.CreateJobRequest(
        model="tiny-qwen2", training_file=f.id,
        hyperparameters=pb.Hyperparameters(model_max_length=16, num_gpus=1)))
    done = await stack.wait_for(job.id)
    assert done.status == "failed"
    assert (done.error.code, done.error.param) == ("invalid_file", "training_file")
    assert "no example has a trained token within model_max_length=16" in done.error.message

    async def failed_event():
        return [e for e in stack.events if type(e).__name__ == "JobFailed"]
    (failed,) = await until(failed_event, 5, "JobFailed on NATS")
    assert failed.error["code"] == "invalid_file"


async def test_create_job_refuses_bad_input_over_grpc_with_the_parameter_named(stack):
    f = await stack.upload(examples(2))
    cases = [
        (dict(model="nope", training_file=f.id), "model_not_found", "model"),
        (dict(model="tiny-qwen2", training_file="file-nope"), "not_found", "training_file"),
        (dict(model="tiny-qwen2", training_file=f.id,
              hyperparameters=pb.Hyperparameters(n_epochs=0, learning_rate=-1)),
         "invalid_argument", "hyperparameters.n_epochs"),
    ]
    for fields, code, param in cases:
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stack.training.CreateJob(pb.CreateJobRequest(**fields))
        err = TuneForgeError.from_rpc_error(e.value)
        assert (err.code, err.param) == (code, param), err.message


async def test_job_left_running_by_a_previous_process_is_queued_again_at_start(
        tmp_path, tiny_dir, nats_url, event_prefix, database_url):
    db.migrate(database_url, MIGRATIONS, "alembic_version_training")
    engine = db.create_engine(database_url)
    await JobStore(db.sessionmaker(engine)).add(JobRecord(
        id="ftjob-left", created_at=1, model="tiny-qwen2", training_file="file-x",
        status="running", hyperparameters={}, seed=1, base_artifact_prefix="models/gone",
        training_file_key="datasets/gone.jsonl", agent=socket.gethostname(), heartbeat_at=1))
    await engine.dispose()
    # Ranks the killed service left behind, in their own session as the launcher starts them.
    ws = Workspace(tmp_path / "training" / "ftjob-left")
    ws.root.mkdir(parents=True)
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)",
                               str(ws.run_config)], start_new_session=True)
    ws.pid_file.write_text(str(orphan.pid))
    try:
        async with services(tmp_path, nats_url, event_prefix, database_url,
                            tiny_dir.parent) as s:
            done = await s.wait_for("ftjob-left", timeout=30)
            messages = [e.message for e in await s.job_events("ftjob-left")]
        assert orphan.wait(timeout=10) == -signal.SIGKILL
    finally:
        orphan.kill()
    assert "The training agent restarted; the job was queued again and continues from its " \
        "latest checkpoint" in messages
    assert messages.index(f"Fine-tuning job started on agent {socket.gethostname()}") > 0
    assert done.status == "failed" and "missing from the artifact store" in done.error.message
