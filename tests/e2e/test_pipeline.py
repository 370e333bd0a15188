"""The seed's story through the gateway with the official openai SDK: upload → fine-tune →
register → deploy → chat, and the error contract on the way."""

import json
import time

import httpx
import openai
import pytest
from transformers import AutoTokenizer

from services.common.chat import tokenize_prompt
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.e2e

QUESTION = [{"role": "user", "content": "你是谁"}]


@pytest.fixture(scope="module")
def client(stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key="local", max_retries=0)


@pytest.fixture(scope="module")
def http(stack):
    with httpx.Client(base_url=stack.api_url, timeout=30) as c:
        yield c


def _status(obj) -> str:
    return obj["status"] if isinstance(obj, dict) else obj.status


def wait_for(fetch, done, timeout: float, what: str):
    """Poll until `done`; returns the object and the distinct statuses seen in order."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        obj = fetch()
        if not seen or seen[-1] != _status(obj):
            seen.append(_status(obj))
        if done(obj):
            return obj, seen
        time.sleep(0.5)
    raise TimeoutError(f"{what} not done after {timeout}s; statuses seen: {seen}")


@pytest.fixture(scope="module")
def training_file(client):
    with open(EXAMPLES / "self_cognition.json", "rb") as f:
        return client.files.create(file=f, purpose="fine-tune")


@pytest.fixture(scope="module")
def finished_job(client, training_file, demo_hyperparameters):
    job = client.fine_tuning.jobs.create(
        model="tiny-qwen2", training_file=training_file.id, suffix="xiaozhi",
        hyperparameters=demo_hyperparameters, seed=42)
    assert job.status in ("validating_files", "queued", "running")
    job, statuses = wait_for(lambda: client.fine_tuning.jobs.retrieve(job.id),
                             lambda j: j.status in ("succeeded", "failed", "cancelled"),
                             600, f"job {job.id}")
    assert job.status == "succeeded", f"job failed: {job.error}"
    return job, statuses


@pytest.fixture(scope="module")
def deployment(http, finished_job):
    job, _ = finished_job
    r = http.post("/v1/deployments", json={"model": job.fine_tuned_model})
    assert r.status_code == 200, r.text
    dep, _ = wait_for(lambda: http.get(f"/v1/deployments/{r.json()['id']}").json(),
                      lambda d: d["status"] in ("ready", "failed"), 300, "deployment")
    assert dep["status"] == "ready", dep
    return dep


def test_upload_accepts_the_seed_format_and_reports_examples(training_file):
    assert training_file.status == "processed"
    assert training_file.purpose == "fine-tune"
    records = json.loads((EXAMPLES / "self_cognition.json").read_text())
    assert training_file.model_extra["num_examples"] == len(records)


def test_upload_of_malformed_file_names_the_record_at_fault(client):
    bad = b'{"conversations": [{"from": "user", "value": "hi"}]}\n{"conversations": 5}\n'
    with pytest.raises(openai.BadRequestError) as e:
        client.files.create(file=("bad.jsonl", bad), purpose="fine-tune")
    assert e.value.status_code == 400
    assert "line 2" in e.value.message
    assert e.value.code == "invalid_file"


def test_models_list_has_the_tiny_base_model(client):
    ids = [m.id for m in client.models.list()]
    assert "tiny-qwen2" in ids


def test_fine_tune_goes_queued_running_succeeded_with_loss_events(client, finished_job):
    job, statuses = finished_job
    assert statuses[-1] == "succeeded"
    assert "running" in statuses
    assert job.fine_tuned_model.startswith("ft:tiny-qwen2:xiaozhi:")
    events = client.fine_tuning.jobs.list_events(job.id, limit=1000).data
    metrics = [e for e in events if e.type == "metrics"]
    assert metrics, "no metrics events"
    losses = [e.data["loss"] for e in reversed(metrics)]  # events are newest first
    assert losses[-1] < losses[0]


def test_fine_tuned_model_is_registered_with_lineage(client, finished_job, training_file):
    job, _ = finished_job
    model = client.models.retrieve(job.fine_tuned_model)
    assert model.model_extra["parent"] == "tiny-qwen2"
    lineage = model.model_extra["lineage"]
    assert lineage["job_id"] == job.id
    assert lineage["training_file"] == training_file.id
    assert lineage["training_file_sha256"] == training_file.model_extra["sha256"]
    assert lineage["hyperparameters"]["n_epochs"] == job.hyperparameters.n_epochs


def test_deployed_model_answers_as_xiaozhi_with_exact_usage(client, finished_job, deployment,
                                                            base_model_dir):
    job, _ = finished_job
    resp = client.chat.completions.create(model=job.fine_tuned_model, messages=QUESTION,
                                          temperature=0, max_tokens=96)
    answer = resp.choices[0].message.content
    assert "小智" in answer and "360智汇云" in answer, answer
    assert resp.choices[0].finish_reason == "stop"

    tok = AutoTokenizer.from_pretrained(base_model_dir)
    assert resp.usage.prompt_tokens == len(tokenize_prompt(tok, QUESTION))
    # The answer's tokens plus the <|im_end|> the model stopped on.
    assert resp.usage.completion_tokens == len(tok.encode(answer)) + 1
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens


def test_streaming_gives_the_same_answer_and_a_usage_chunk(client, finished_job, deployment):
    job, _ = finished_job
    full = client.chat.completions.create(model=job.fine_tuned_model, messages=QUESTION,
                                          temperature=0, max_tokens=96)
    chunks = list(client.chat.completions.create(
        model=job.fine_tuned_model, messages=QUESTION, temperature=0, max_tokens=96,
        stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content
    assert chunks[-1].choices == [] and chunks[-1].usage == full.usage
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"


def test_max_tokens_cuts_the_answer_with_finish_reason_length(client, finished_job, deployment):
    job, _ = finished_job
    resp = client.chat.completions.create(model=job.fine_tuned_model, messages=QUESTION,
                                          temperature=0, max_tokens=3)
    assert resp.choices[0].finish_reason == "length"
    assert resp.usage.completion_tokens == 3


def test_unknown_model_is_404_model_not_found(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="no-such-model", messages=QUESTION)
    assert e.value.code == "model_not_found"
    assert "no-such-model" in e.value.message


def test_unknown_file_and_job_are_404(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.files.retrieve("file-doesnotexist")
    assert "file-doesnotexist" in e.value.message
    with pytest.raises(openai.NotFoundError) as e:
        client.fine_tuning.jobs.retrieve("ftjob-doesnotexist")
    assert "ftjob-doesnotexist" in e.value.message


def test_bad_hyperparameter_is_400_naming_it(client, training_file):
    with pytest.raises(openai.BadRequestError) as e:
        client.fine_tuning.jobs.create(model="tiny-qwen2", training_file=training_file.id,
                                       hyperparameters={"n_epochs": 0})
    assert e.value.param == "hyperparameters.n_epochs"
    assert "n_epochs" in e.value.message


def test_deploying_an_unknown_model_is_404(http):
    r = http.post("/v1/deployments", json={"model": "nope"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "model_not_found"


def test_unknown_route_uses_the_error_envelope(http):
    r = http.get("/v1/nothing-here")
    assert r.status_code == 404
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}
