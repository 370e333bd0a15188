"""Per-key request rate and concurrent generations, per-project upload size and job quota."""

import asyncio

from tests.integration.gateway_stack import BASE, gateway

ADMIN = {"Authorization": "Bearer tf-admin-limits"}
CHAT = {"model": BASE, "messages": [{"role": "user", "content": "hi"}]}


def limits(nats_url, prefix, url, **kw):
    return gateway(nats_url, prefix, url, admin_key="tf-admin-limits", **kw)


async def test_requests_over_the_rate_get_429_with_retry_after(nats_url, event_prefix,
                                                               database_url):
    async with limits(nats_url, event_prefix, database_url, rate_limit_per_minute=2) as (c, _):
        codes = [(await c.get("/v1/files", headers=ADMIN)).status_code for _ in range(3)]
        r = await c.get("/v1/files", headers=ADMIN)

    assert codes == [200, 200, 429]
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert r.json()["error"]["code"] == "rate_limited"
    assert r.json()["error"]["type"] == "rate_limit_error"
    assert "2 requests per minute" in r.json()["error"]["message"]


async def test_generation_over_the_concurrency_limit_gets_429_until_one_ends(
        nats_url, event_prefix, database_url):
    async with limits(nats_url, event_prefix, database_url,
                      max_concurrent_generations=1) as (c, fakes):
        fakes.inference.held = True
        first = asyncio.create_task(c.post("/v1/chat/completions", json=CHAT, headers=ADMIN))
        await asyncio.sleep(0.3)
        second = await c.post("/v1/chat/completions", json=CHAT, headers=ADMIN)
        fakes.inference.hold.set()
        first = await first
        third = await c.post("/v1/completions", json={"model": BASE, "prompt": "x"},
                             headers=ADMIN)

    assert second.status_code == 429, second.text
    assert second.headers["retry-after"] == "1"
    assert "concurrent generations" in second.json()["error"]["message"]
    assert (first.status_code, third.status_code) == (200, 200)


async def test_upload_over_the_size_limit_is_413_naming_the_file(nats_url, event_prefix,
                                                                 database_url):
    async with limits(nats_url, event_prefix, database_url, max_upload_bytes=100) as (c, fakes):
        r = await c.post("/v1/files", headers=ADMIN, data={"purpose": "fine-tune"},
                         files={"file": ("big.jsonl", b"x" * 1000)})

    assert r.status_code == 413, r.text
    assert (r.json()["error"]["code"], r.json()["error"]["param"]) == ("payload_too_large",
                                                                       "file")
    assert "limit of 100 bytes" in r.json()["error"]["message"]
    assert fakes.dataset.files == {}


async def test_job_over_the_project_quota_is_refused_until_one_ends(nats_url, event_prefix,
                                                                    database_url):
    async with limits(nats_url, event_prefix, database_url, max_active_jobs=1) as (c, _):
        f = (await c.post("/v1/files", headers=ADMIN, data={"purpose": "fine-tune"},
                          files={"file": ("a.jsonl", b"{}\n")})).json()["id"]
        job = {"model": BASE, "training_file": f}
        first = await c.post("/v1/fine_tuning/jobs", json=job, headers=ADMIN)
        refused = await c.post("/v1/fine_tuning/jobs", json=job, headers=ADMIN)
        await c.post(f"/v1/fine_tuning/jobs/{first.json()['id']}/cancel", headers=ADMIN)
        again = await c.post("/v1/fine_tuning/jobs", json=job, headers=ADMIN)

    assert first.status_code == 200, first.text
    assert refused.status_code == 429 and "1 fine-tuning jobs" in refused.json()["error"][
        "message"]
    assert again.status_code == 200, again.text
