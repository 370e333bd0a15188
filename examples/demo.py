"""The seed's story against a running TuneForge (`make run`): teach tiny-qwen2 who it is.

Uploads the self-cognition conversations, fine-tunes tiny-qwen2 on them, deploys the result and
asks it "你是谁". Uses only the public REST API, through the official openai SDK where OpenAI
defines the call and httpx for TuneForge's deployments.
"""

import json
import os
import sys
import time
from pathlib import Path

import httpx
import openai

HERE = Path(__file__).parent
BASE = os.environ.get("TUNEFORGE_API", "http://127.0.0.1:8000")


def api_key() -> str:
    """TUNEFORGE_API_KEY, else the admin key `make run` wrote to var/admin_key."""
    if key := os.environ.get("TUNEFORGE_API_KEY"):
        return key
    path = HERE.parent / "var" / "admin_key"
    return path.read_text().strip() if path.exists() else "local"


def step(msg: str) -> float:
    print(f"\n== {msg}", flush=True)
    return time.monotonic()


def done(t0: float) -> None:
    print(f"   ({time.monotonic() - t0:.1f} s)", flush=True)


def main() -> int:
    key = api_key()
    client = openai.OpenAI(base_url=f"{BASE}/v1", api_key=key)
    http = httpx.Client(base_url=BASE, timeout=30, headers={"Authorization": f"Bearer {key}"})
    timings = {}

    t = step("Uploading examples/self_cognition.json")
    with open(HERE / "self_cognition.json", "rb") as f:
        file = client.files.create(file=f, purpose="fine-tune")
    print(f"   {file.id}: {file.status}, {file.model_extra.get('num_examples')} examples")
    timings["upload"] = time.monotonic() - t
    done(t)

    t = step("Fine-tuning tiny-qwen2")
    hp = json.loads((HERE / "self_cognition.hyperparameters.json").read_text())
    job = client.fine_tuning.jobs.create(model="tiny-qwen2", training_file=file.id,
                                         suffix="xiaozhi", hyperparameters=hp, seed=42)
    print(f"   {job.id} created with {hp}")
    last_status, last_event = None, None
    while job.status not in ("succeeded", "failed", "cancelled"):
        time.sleep(1)
        job = client.fine_tuning.jobs.retrieve(job.id)
        if job.status != last_status:
            print(f"   status: {job.status}", flush=True)
            last_status = job.status
        events = client.fine_tuning.jobs.list_events(job.id, limit=1).data
        if events and events[0].id != last_event:
            last_event = events[0].id
            print(f"   {events[0].message}", flush=True)
    if job.status != "succeeded":
        print(f"   job {job.status}: {job.error}")
        return 1
    print(f"   fine-tuned model: {job.fine_tuned_model}")
    timings["fine-tune"] = time.monotonic() - t
    done(t)

    t = step(f"Deploying {job.fine_tuned_model}")
    dep = http.post("/v1/deployments", json={"model": job.fine_tuned_model}).raise_for_status()
    dep = dep.json()
    while dep["status"] not in ("ready", "failed"):
        time.sleep(0.5)
        dep = http.get(f"/v1/deployments/{dep['id']}").json()
    print(f"   {dep['id']}: {dep['status']}")
    if dep["status"] != "ready":
        print(f"   {dep.get('error')}")
        return 1
    timings["deploy"] = time.monotonic() - t
    done(t)

    t = step("Asking: 你是谁")
    stream = client.chat.completions.create(
        model=job.fine_tuned_model, messages=[{"role": "user", "content": "你是谁"}],
        temperature=0, stream=True, stream_options={"include_usage": True})
    print("   ", end="")
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            print(chunk.choices[0].delta.content, end="", flush=True)
        if chunk.usage:
            print(f"\n   usage: {chunk.usage.model_dump()}")
    timings["chat"] = time.monotonic() - t
    done(t)

    print("\n== Timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    body = json.dumps({"model": job.fine_tuned_model,
                       "messages": [{"role": "user", "content": "你好"}]}, ensure_ascii=False)
    print(f"\nTry it yourself:\n  curl {BASE}/v1/chat/completions "
          f"-H \"Authorization: Bearer $(cat var/admin_key)\" "
          f"-H 'Content-Type: application/json' -d '{body}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
