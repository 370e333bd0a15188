"""A real fine-tune (one CPU rank, DeepSpeed) registers a model whose lineage is complete and
whose round-trip check rendered the job's own training examples."""

import json

import pytest

from services.registry.tiny_model import EXAMPLE_DATASET, build_tiny_model
from tests.integration.training_stack import services
from tuneforge.v1 import registry_pb2
from tuneforge.v1 import training_pb2 as pb


@pytest.fixture
async def stack(tmp_path, nats_url, event_prefix, database_url):
    tiny = build_tiny_model(tmp_path / "base-models" / "tiny-qwen2")
    async with services(tmp_path, nats_url, event_prefix, database_url, tiny.parent,
                        max_ranks=1) as s:
        yield s


async def test_fine_tuned_model_has_complete_lineage_and_passed_the_round_trip(stack):
    f = await stack.upload(json.loads(EXAMPLE_DATASET.read_text(encoding="utf-8"))[:4])
    job = await stack.training.CreateJob(pb.CreateJobRequest(
        model="tiny-qwen2", training_file=f.id, suffix="lineage", seed=3,
        hyperparameters=pb.Hyperparameters(n_epochs=1, batch_size=2, num_gpus=1, zero_stage=0,
                                           model_max_length=64)))
    done = await stack.wait_for(job.id)
    assert done.status == "succeeded", done.error.message

    m = await stack.registry.GetModel(registry_pb2.GetModelRequest(id=done.fine_tuned_model))
    base = await stack.registry.GetModel(registry_pb2.GetModelRequest(id="tiny-qwen2"))

    lin = m.lineage
    assert (m.status, m.kind, m.parent, m.root) == ("ready", "fine-tuned", "tiny-qwen2",
                                                    "tiny-qwen2")
    assert (m.name, m.version) == ("ft:tiny-qwen2:lineage", 1)
    assert (lin.base_model, lin.training_file, lin.training_file_sha256, lin.job_id) == (
        "tiny-qwen2", f.id, f.sha256, job.id)
    hyperparameters = json.loads(lin.hyperparameters_json)
    assert (hyperparameters["n_epochs"], hyperparameters["lr_scheduler_type"]) == (1, "cosine")
    assert lin.metrics["train_loss"] > 0 and lin.created_by == "user"
    assert (m.round_trip.passed, m.round_trip.source, m.round_trip.examples_checked) == (
        True, "training_file", 4)
    # Served with exactly what the base (which training tokenized with) renders and stops at.
    assert m.serving.chat_template == base.serving.chat_template
    assert list(m.serving.stop_token_ids) == list(base.serving.stop_token_ids) == [0, 2]
