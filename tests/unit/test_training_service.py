"""Training service logic against a real SQL store and fakes of its clients and runner."""

import asyncio
import json

import pytest

from services.common import db
from services.common.errors import TuneForgeError
from services.training.lifecycle import Lifecycle
from services.training.runner import fine_tuned_name
from services.training.server import MIGRATIONS
from services.common.artifacts import LocalArtifactStore
from services.training.service import Capacity, JobRequest, TrainingService
from services.training.store import JobStore
from services.training.trainer.config import Hyperparameters
from tests.unit.training_fakes import FakeBus, FakeDataset, FakeQueue, FakeRegistry, FakeRunner
from tuneforge.v1 import dataset_pb2, registry_pb2

BASE = registry_pb2.Model(id="tiny-qwen2", kind="base", artifact_prefix="models/tiny-qwen2",
                          context_length=2048, status="ready")
READY = dataset_pb2.File(id="file-ok", status="processed", artifact_key="datasets/ok.jsonl",
                         sha256="ab" * 32, num_examples=50)
BROKEN = dataset_pb2.File(id="file-bad", status="error", status_details="line 3: no messages")
VALID = dataset_pb2.File(id="file-valid", status="processed", artifact_key="datasets/v.jsonl",
                         sha256="cd" * 32, num_examples=5)
# Qwen2.5-14B's shape, to check the fit on 80 GB GPUs.
QWEN14B = registry_pb2.Model(id="qwen-14b", kind="base", artifact_prefix="models/qwen-14b",
                             context_length=32768, status="ready", num_parameters=14_770_033_664)
QWEN14B_CONFIG = {"hidden_size": 5120, "intermediate_size": 13824, "num_hidden_layers": 48,
                  "vocab_size": 152064}
GPU_80GB = Capacity(max_ranks=8, device_memory=lambda ranks: 80 * 2**30, mixed_precision=True,
                    gpu=True)


@pytest.fixture
async def env(database_url, tmp_path):
    db.migrate(database_url, MIGRATIONS, "alembic_version_training")
    engine = db.create_engine(database_url)
    store, bus, runner = JobStore(db.sessionmaker(engine)), FakeBus(), FakeRunner()
    artifacts = LocalArtifactStore(tmp_path / "artifacts")
    artifacts.put_bytes("models/qwen-14b/config.json", json.dumps(QWEN14B_CONFIG).encode())
    capacity = Capacity(max_ranks=2, device_memory=lambda ranks: 8 * 2**30,
                        mixed_precision=False, gpu=False)
    service = TrainingService(store, Lifecycle(store, bus), FakeDataset(READY, BROKEN, VALID),
                              FakeRegistry(BASE, QWEN14B), runner, FakeQueue(), artifacts,
                              Hyperparameters(), capacity)
    yield service, bus, runner
    await engine.dispose()


def request(**kw) -> JobRequest:
    return JobRequest(**{"model": "tiny-qwen2", "training_file": "file-ok", **kw})


async def test_created_job_is_queued_with_resolved_hyperparameters(env):
    service, bus, runner = env
    job = await service.create(request(hyperparameters={"n_epochs": 7}, suffix="xiaozhi",
                                       seed=42))
    assert job.id.startswith("ftjob-") and job.status == "queued"
    expected = Hyperparameters(n_epochs=7, per_device_train_batch_size=8)
    assert job.hyperparameters == expected.model_dump()
    assert (job.seed, job.suffix, job.training_file_sha256) == (42, "xiaozhi", "ab" * 32)
    assert (job.base_artifact_prefix, job.training_file_key) == (
        "models/tiny-qwen2", "datasets/ok.jsonl")
    assert [(type(e).__name__, e.job_id) for e in bus.published] == [("JobQueued", job.id)]
    assert service.queue.submitted == [job.id]
    assert (await service.get(job.id)).hyperparameters["n_epochs"] == 7


async def test_job_without_seed_gets_one_recorded(env):
    service, _, _ = env
    job = await service.create(request())
    assert (await service.get(job.id)).seed == job.seed >= 0


async def test_bad_hyperparameters_and_suffix_are_refused_together(env):
    service, bus, _ = env
    with pytest.raises(TuneForgeError) as e:
        await service.create(request(hyperparameters={"n_epochs": 0, "zero_stage": 5},
                                     suffix="no spaces please"))
    assert (e.value.code, e.value.param) == ("invalid_argument", "suffix")
    assert "hyperparameters.n_epochs" in e.value.message
    assert "hyperparameters.zero_stage" in e.value.message
    assert bus.published == []


async def test_unknown_model_is_model_not_found(env):
    service, _, _ = env
    with pytest.raises(TuneForgeError) as e:
        await service.create(request(model="gpt-9"))
    assert (e.value.code, e.value.param) == ("model_not_found", "model")
    assert "gpt-9" in e.value.message


async def test_unknown_training_file_is_not_found_naming_training_file(env):
    service, _, _ = env
    with pytest.raises(TuneForgeError) as e:
        await service.create(request(training_file="file-nope"))
    assert (e.value.code, e.value.param) == ("not_found", "training_file")
    assert "file-nope" in e.value.message


async def test_training_file_that_failed_processing_is_refused_with_its_details(env):
    service, _, _ = env
    with pytest.raises(TuneForgeError) as e:
        await service.create(request(training_file="file-bad"))
    assert (e.value.code, e.value.param) == ("invalid_argument", "training_file")
    assert "status is 'error': line 3: no messages" in e.value.message


async def test_validation_file_is_checked_like_the_training_file_and_kept(env):
    service, _, _ = env
    with pytest.raises(TuneForgeError) as e:
        await service.create(request(validation_file="file-bad"))
    assert (e.value.param, e.value.code) == ("validation_file", "invalid_argument")
    with pytest.raises(TuneForgeError) as e:
        await service.create(request(validation_file="file-nope"))
    assert (e.value.param, e.value.code) == ("validation_file", "not_found")
    job = await service.create(request(validation_file="file-valid"))
    assert (job.validation_file, job.validation_file_key) == ("file-valid", "datasets/v.jsonl")


async def test_eval_prompts_and_alias_are_checked(env):
    service, _, _ = env
    with pytest.raises(TuneForgeError) as e:
        await service.create(request(eval_prompts=["你是谁", "  "], alias="Prod!"))
    assert e.value.param == "eval_prompts[1]"
    assert "alias must start with a lower case letter" in e.value.message
    job = await service.create(request(eval_prompts=["你是谁"], alias="prod", auto_deploy=True))
    assert (job.eval_prompts, job.alias, job.auto_deploy) == (["你是谁"], "prod", True)


async def test_a_job_that_cannot_fit_is_refused_with_the_stage_that_would(env):
    service, _, _ = env
    service.capacity = GPU_80GB
    full = {"zero_stage": 2, "num_gpus": 1, "model_max_length": 2048, "batch_size": 1}
    with pytest.raises(TuneForgeError) as e:
        await service.create(request(model="qwen-14b", hyperparameters=full))
    assert (e.value.code, e.value.param) == ("invalid_argument", "hyperparameters.zero_stage")
    assert "cannot fit in memory" in e.value.message
    assert "it would fit with zero_stage=3 with offload_optimizer=true" in e.value.message
    # The seed's setup: 8 GPUs, ZeRO-3 fits without offload.
    eight = {**full, "zero_stage": 3, "num_gpus": 8, "batch_size": 8}
    est = await service.estimate(request(model="qwen-14b", hyperparameters=eight))
    assert est.fits and est.per_device_bytes < 80 * 2**30
    lora = {**full, "lora_r": 16}
    assert (await service.estimate(request(model="qwen-14b", hyperparameters=lora))).fits


async def test_pausing_a_queued_job_pauses_it_at_once_and_resume_queues_it_again(env):
    service, bus, _ = env
    job = await service.create(request())
    paused = await service.pause(job.id)
    assert paused.status == "paused" and type(bus.published[-1]).__name__ == "JobPaused"
    resumed = await service.resume(job.id)
    assert resumed.status == "queued" and service.queue.submitted == [job.id, job.id]
    with pytest.raises(TuneForgeError) as e:
        await service.resume(job.id)
    assert e.value.code == "conflict" and "only paused jobs" in e.value.message


async def test_pausing_a_running_job_asks_its_agent_and_a_paused_job_can_be_cancelled(env):
    service, _, _ = env
    job = await service.create(request())
    await service.store.transition(job.id, ("queued",), "running")
    asked = await service.pause(job.id)
    assert (asked.status, asked.control) == ("running", "pause")
    await service.store.transition(job.id, ("running",), "paused", control="")
    assert (await service.cancel(job.id)).status == "cancelled"
    with pytest.raises(TuneForgeError) as e:
        await service.pause(job.id)
    assert e.value.code == "conflict"


async def test_jobs_are_filtered_by_status_and_metadata(env):
    service, _, _ = env
    a = await service.create(request(metadata={"team": "zh", "run": "1"}))
    b = await service.create(request(metadata={"team": "zh", "run": "2"}))
    await service.create(request(metadata={"team": "en"}))
    await service.cancel(a.id)
    page, _ = await service.list_jobs(10, metadata={"team": "zh"})
    assert [j.id for j in page] == [b.id, a.id]
    page, _ = await service.list_jobs(10, status="cancelled", metadata={"team": "zh"})
    assert [j.id for j in page] == [a.id]
    page, _ = await service.list_jobs(10, metadata={"team": "zh", "run": "2"})
    assert [j.id for j in page] == [b.id]


async def test_watching_events_yields_the_past_then_new_ones_until_the_job_ends(env):
    service, _, _ = env
    job = await service.create(request())
    seen = []

    async def watch():
        async for event in service.watch_events(job.id):
            seen.append(event.message)

    task = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    await service.lifecycle.note(job.id, "later")
    await service.cancel(job.id)
    await asyncio.wait_for(task, 5)
    assert seen[0] == f"Created fine-tuning job: {job.id}"
    assert seen[-2:] == ["later", "The job was cancelled"]


async def test_cancelling_a_queued_job_needs_no_runner(env):
    service, bus, runner = env
    job = await service.create(request())
    cancelled = await service.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at > 0
    assert runner.stopped == []
    assert type(bus.published[-1]).__name__ == "JobCancelled"


async def test_cancelling_a_running_job_stops_its_ranks(env):
    service, _, runner = env
    job = await service.create(request())
    await service.store.transition(job.id, ("queued",), "running")
    assert (await service.cancel(job.id)).status == "cancelled"
    assert runner.stopped == [job.id]


async def test_cancelling_a_finished_job_is_a_conflict_naming_its_status(env):
    service, _, _ = env
    job = await service.create(request())
    await service.cancel(job.id)
    with pytest.raises(TuneForgeError) as e:
        await service.cancel(job.id)
    assert (e.value.code, e.value.param) == ("conflict", "id")
    assert "has status 'cancelled'" in e.value.message


async def test_unknown_job_is_not_found(env):
    service, _, _ = env
    with pytest.raises(TuneForgeError) as e:
        await service.get("ftjob-nope")
    assert (e.value.code, e.value.param) == ("not_found", "id")
    with pytest.raises(TuneForgeError) as e:
        await service.list_events("ftjob-nope", 10)
    assert (e.value.code, e.value.param) == ("not_found", "job_id")


async def test_events_are_listed_newest_first_and_paginated(env):
    service, _, _ = env
    job = await service.create(request())
    for i in range(5):
        await service.lifecycle.note(job.id, f"note {i}")
    first, more = await service.list_events(job.id, 2)
    assert [e.message for e in first] == ["note 4", "note 3"] and more
    rest, more = await service.list_events(job.id, 100, after=first[-1].id)
    assert [e.message for e in rest][:3] == ["note 2", "note 1", "note 0"] and not more
    assert rest[-1].message == f"Created fine-tuning job: {job.id}"


async def test_jobs_are_listed_newest_first_and_paginated(env):
    service, _, _ = env
    ids = [(await service.create(request())).id for _ in range(3)]
    page, more = await service.list_jobs(2)
    assert [j.id for j in page] == ids[::-1][:2] and more
    page, more = await service.list_jobs(2, after=page[-1].id)
    assert [j.id for j in page] == [ids[0]] and not more


async def test_lora_adapter_cannot_be_fine_tuned_until_merged(env):
    service, _, _ = env
    service.registry.models["adapter"] = registry_pb2.Model(id="adapter", format="lora",
                                                            status="ready")
    with pytest.raises(TuneForgeError) as e:
        await service.create(request(model="adapter"))
    assert (e.value.code, e.value.param) == ("invalid_argument", "model")
    assert "LoRA adapter" in e.value.message


async def test_fine_tuned_models_are_named_after_the_root_base_model(env):
    service, _, _ = env
    service.registry.models["ft:tiny-qwen2:a:1234abcd"] = registry_pb2.Model(
        id="ft:tiny-qwen2:a:1234abcd", root="tiny-qwen2", status="ready", context_length=2048)
    job = await service.create(request(model="ft:tiny-qwen2:a:1234abcd", suffix="b"))
    assert job.model == "ft:tiny-qwen2:a:1234abcd"
    assert fine_tuned_name(job) == f"ft:tiny-qwen2:b:{job.id[-8:]}"


async def test_several_nodes_need_a_multinode_backend(env):
    service, _, _ = env
    with pytest.raises(TuneForgeError) as e:
        await service.create(request(hyperparameters={"num_nodes": 2, "num_gpus": 2}))
    assert e.value.param == "hyperparameters.num_nodes"
    assert "needs a multi-node backend" in e.value.message
