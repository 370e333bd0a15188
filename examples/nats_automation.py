"""An external automation on NATS: deploy every fine-tuned model as soon as its job succeeds.

Listens to `<prefix>.v1.<project>.training.job.succeeded` on JetStream with a durable
consumer (so an event published while it was down is still handled), then asks the public API
to deploy the job's model and points the `latest` alias at it. It follows the jobs of one
project (`TUNEFORGE_PROJECT`, the one its API key acts for); `*` follows every project's. Run
it beside `make run`:

    python examples/nats_automation.py
    TUNEFORGE_API=http://127.0.0.1:8000 TUNEFORGE_API_KEY=tf-... TUNEFORGE_PROJECT=team-a \
        TUNEFORGE_NATS_URL=nats://127.0.0.1:4222 python examples/nats_automation.py

Subjects and their JSON schemas are listed in docs/events.md.
"""

import asyncio
import json
import os
import signal

import httpx
import nats

API = os.environ.get("TUNEFORGE_API", "http://127.0.0.1:8000")
KEY = os.environ.get("TUNEFORGE_API_KEY") or os.environ.get("TUNEFORGE_ADMIN_KEY", "")
NATS_URL = os.environ.get("TUNEFORGE_NATS_URL", "nats://127.0.0.1:4322")  # make run's
PREFIX = os.environ.get("TUNEFORGE_EVENTS_SUBJECT_PREFIX", "tuneforge")
STREAM = os.environ.get("TUNEFORGE_EVENTS_STREAM", "TUNEFORGE")
PROJECT = os.environ.get("TUNEFORGE_PROJECT", "default")
SUBJECT = f"{PREFIX}.v1.{PROJECT}.training.job.succeeded"


async def deploy(api: httpx.AsyncClient, job_id: str) -> None:
    """Deploy the model of a succeeded job and move its `latest` alias to it."""
    job = (await api.get(f"/v1/fine_tuning/jobs/{job_id}")).raise_for_status().json()
    model = job["fine_tuned_model"]
    record = (await api.get(f"/v1/registry/models/{model}")).raise_for_status().json()
    r = await api.put(f"/v1/registry/models/{record['name']}/aliases/latest",
                      json={"model": model})
    print(f"{job_id}: alias {record['name']}@latest -> {model} ({r.status_code})")
    d = (await api.post("/v1/deployments", json={"model": model})).raise_for_status().json()
    print(f"{job_id}: deployment {d['id']} of {model} is {d['status']}")


async def main() -> None:
    headers = {"Authorization": f"Bearer {KEY}"} if KEY else {}
    async with httpx.AsyncClient(base_url=API, headers=headers, timeout=60) as api:
        nc = await nats.connect(NATS_URL)
        js = nc.jetstream()

        async def on_succeeded(msg) -> None:
            event = json.loads(msg.data)
            try:
                await deploy(api, event["job_id"])
            except httpx.HTTPStatusError as e:
                print(f"{event['job_id']}: {e.response.status_code} {e.response.text}")
            await msg.ack()  # acknowledged either way: a refusal will not change on retry

        # One durable per project followed: a durable keeps the subject it was created with.
        durable = "example-auto-deploy-" + ("all" if PROJECT == "*" else PROJECT)
        await js.subscribe(SUBJECT, stream=STREAM, durable=durable, cb=on_succeeded,
                           manual_ack=True)
        print(f"waiting for {SUBJECT} on {NATS_URL} (Ctrl-C stops)")
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
        await stop.wait()
        await nc.drain()


if __name__ == "__main__":
    asyncio.run(main())
