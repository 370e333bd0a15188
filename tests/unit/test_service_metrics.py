"""Service metrics fed from the work itself: tokens and streams of completions, jobs by status,
files by validation outcome."""

import pytest
from prometheus_client import CollectorRegistry

from services.common.errors import TuneForgeError
from services.common.events import DatasetInvalid, DatasetValidated
from services.common.metrics import DatasetMetrics, InferenceMetrics, TrainingMetrics
from services.inference.metrics import MeteredServing
from services.inference.protocol import Chunk, SamplingParams, Usage


class FakeServing:
    """Streams two text chunks, a finish chunk and usage; or fails before the first."""

    def __init__(self, fail: bool = False):
        self.fail = fail

    async def chat(self, model, messages, params):
        if self.fail:
            raise TuneForgeError("model_not_found", f"The model '{model}' does not exist.")
        yield Chunk(0, "你")
        yield Chunk(0, "好")
        yield Chunk(0, finish_reason="stop")
        yield Chunk(usage=Usage(prompt_tokens=7, completion_tokens=2))

    async def complete(self, model, prompt, params, echo=False):
        async for c in self.chat(model, [], params):
            yield c


def value(registry: CollectorRegistry, name: str, **labels) -> float | None:
    return registry.get_sample_value(name, labels)


async def test_completion_counts_tokens_and_times_the_first_chunk():
    registry = CollectorRegistry()
    serving = MeteredServing(FakeServing(), InferenceMetrics(registry))
    seen_running = []
    async for _ in serving.chat("tiny", [{"role": "user", "content": "hi"}], SamplingParams()):
        seen_running.append(value(registry, "tuneforge_inference_requests_running",
                                  model="tiny"))

    assert seen_running == [1, 1, 1, 1]
    assert value(registry, "tuneforge_inference_requests_running", model="tiny") == 0
    assert value(registry, "tuneforge_inference_prompt_tokens_total", model="tiny") == 7
    assert value(registry, "tuneforge_inference_generated_tokens_total", model="tiny") == 2
    assert value(registry, "tuneforge_inference_time_to_first_token_seconds_count",
                 model="tiny") == 1


async def test_echoed_completion_is_not_timed_and_a_failed_one_adds_no_series():
    registry = CollectorRegistry()
    metrics = InferenceMetrics(registry)
    async for _ in MeteredServing(FakeServing(), metrics).complete("tiny", "hi",
                                                                   SamplingParams(), echo=True):
        pass
    with pytest.raises(TuneForgeError):
        async for _ in MeteredServing(FakeServing(fail=True), metrics).chat("nope", [],
                                                                           SamplingParams()):
            pass

    assert value(registry, "tuneforge_inference_time_to_first_token_seconds_count",
                 model="tiny") is None
    assert value(registry, "tuneforge_inference_generated_tokens_total", model="tiny") == 2
    assert value(registry, "tuneforge_inference_requests_running", model="nope") is None


def test_job_counts_replace_the_gauge_and_missing_statuses_read_zero():
    registry = CollectorRegistry()
    metrics = TrainingMetrics(registry)
    metrics.set_job_counts({"queued": 2, "running": 1})
    metrics.set_job_counts({"queued": 1})

    assert value(registry, "tuneforge_training_jobs", status="queued") == 1
    assert value(registry, "tuneforge_training_jobs", status="running") == 0
    assert value(registry, "tuneforge_training_jobs", status="cancelled") == 0


def test_files_are_counted_by_validation_outcome():
    registry = CollectorRegistry()
    metrics = DatasetMetrics(registry)
    fields = dict(file_id="file-1", filename="a.jsonl", sha256="0" * 64, num_examples=1,
                  num_warnings=0)
    metrics.on_event(DatasetValidated(**fields))
    metrics.on_event(DatasetInvalid(**fields, num_errors=1, status_details="bad"))
    metrics.on_event(DatasetValidated(**fields))

    assert value(registry, "tuneforge_dataset_files_processed_total", outcome="validated") == 2
    assert value(registry, "tuneforge_dataset_files_processed_total", outcome="invalid") == 1
