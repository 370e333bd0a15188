"""A job's whole life through the gateway with the openai SDK: validation file, pause and resume,
checkpoints, live events over SSE, the before/after answers, and auto_deploy."""

import json

import httpx
import openai
import pytest

from tests.conftest import EXAMPLES
from tests.e2e.test_pipeline import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.api_url}/v1", api_key="local", max_retries=0)


def upload(client, records: list[str], name: str):
    return client.files.create(file=(name, "".join(records).encode()), purpose="fine-tune")


def test_pause_resume_checkpoints_sse_evaluation_and_auto_deploy(client, stack):
    lines = (EXAMPLES / "self_cognition.jsonl").read_text(encoding="utf-8").splitlines(True)
    train, valid = upload(client, lines, "train.jsonl"), upload(client, lines[:10], "valid.jsonl")
    job = client.fine_tuning.jobs.create(
        model="tiny-qwen2", training_file=train.id, validation_file=valid.id, seed=1,
        suffix="life", hyperparameters={"n_epochs": 4, "batch_size": 8, "learning_rate": 1e-3,
                                        "save_strategy": "steps", "save_steps": 10},
        extra_body={"eval_prompts": ["你是谁"], "auto_deploy": True})

    wait_for(lambda: client.fine_tuning.jobs.retrieve(job.id),
             lambda j: j.model_extra.get("step", 0) >= 1, 300, "the first step")
    client.fine_tuning.jobs.pause(job.id)
    paused, _ = wait_for(lambda: client.fine_tuning.jobs.retrieve(job.id),
                         lambda j: j.status == "paused", 120, "the pause")
    stopped_at = paused.model_extra["step"]
    assert 0 < stopped_at < paused.model_extra["total_steps"] == 28
    assert client.fine_tuning.jobs.resume(job.id).status == "queued"

    # Follow the job live until it ends: every event once, oldest first.
    with httpx.Client(base_url=stack.api_url, timeout=600) as http, http.stream(
            "GET", f"/v1/fine_tuning/jobs/{job.id}/events", params={"stream": "true"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        data = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    events = [json.loads(d) for d in data[:-1]]
    assert events[-1]["message"] == "The job has successfully completed"
    steps = [e["data"]["step"] for e in events if e["type"] == "metrics"]
    assert steps == list(range(1, 29)), "the step count continued after the pause"

    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded"
    evaluation = done.model_extra["evaluation"]
    assert evaluation["metrics"]["valid_loss"] > 0
    assert evaluation["comparisons"][0]["prompt"] == "你是谁"

    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in checkpoints] == [20, 10]
    assert checkpoints[0].fine_tuned_model_checkpoint == f"{done.fine_tuned_model}:ckpt-step-20"
    assert checkpoints[0].metrics.valid_loss > 0

    listed = client.fine_tuning.jobs.list(extra_query={"status": "succeeded"}).data
    assert job.id in [j.id for j in listed]
    assert all(j.status == "succeeded" for j in listed)

    # auto_deploy: the model answers once its deployment is ready.
    deployment = done.model_extra["deployment"]
    with httpx.Client(base_url=stack.api_url, timeout=30) as http:
        dep, _ = wait_for(lambda: http.get(f"/v1/deployments/{deployment}").json(),
                          lambda d: d["status"] in ("ready", "failed"), 300, "auto deployment")
    assert dep["status"] == "ready", dep
    answer = client.chat.completions.create(
        model=done.fine_tuned_model, messages=[{"role": "user", "content": "你是谁"}],
        temperature=0, max_tokens=32).choices[0].message.content
    assert answer.strip() and evaluation["comparisons"][0]["fine_tuned"].strip()
