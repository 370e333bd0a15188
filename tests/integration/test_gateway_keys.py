"""API keys: admin API, Bearer auth in the OpenAI envelope, revocation at once."""

import asyncio

import pytest

from tests.integration.gateway_stack import gateway

ADMIN = "tf-admin-test-key"


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def error(r) -> tuple[int, str, str]:
    e = r.json()["error"]
    return r.status_code, e["code"], e["type"]


@pytest.fixture
async def api(nats_url, event_prefix, database_url):
    async with gateway(nats_url, event_prefix, database_url, admin_key=ADMIN) as (client, _):
        yield client


async def new_key(client, project: str) -> dict:
    r = await client.post("/v1/admin/projects", json={"id": project}, headers=bearer(ADMIN))
    assert r.status_code in (200, 409), r.text
    r = await client.post("/v1/admin/keys", json={"project_id": project, "name": "ci"},
                          headers=bearer(ADMIN))
    assert r.status_code == 200, r.text
    return r.json()


async def test_request_without_key_is_401_in_openai_envelope(api):
    r = await api.get("/v1/files")

    assert error(r) == (401, "unauthenticated", "authentication_error")
    assert "Authorization: Bearer" in r.json()["error"]["message"]
    assert r.headers["www-authenticate"] == "Bearer"


async def test_request_with_wrong_key_is_401_without_echoing_the_key(api):
    r = await api.get("/v1/files", headers=bearer("tf-wrong-secret-value"))

    assert error(r) == (401, "unauthenticated", "authentication_error")
    assert "wrong-secret" not in r.json()["error"]["message"]


async def test_created_key_is_shown_once_and_works(api):
    created = await new_key(api, "team-a")

    listed = (await api.get("/v1/admin/keys", params={"project_id": "team-a"},
                            headers=bearer(ADMIN))).json()["data"]
    r = await api.get("/v1/files", headers=bearer(created["key"]))

    assert created["key"].startswith("tf-") and len(created["key"]) > 40
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0] and created["key"].startswith(listed[0]["prefix"])
    assert r.status_code == 200, r.text


async def test_revoked_key_is_refused_on_the_next_request(api):
    created = await new_key(api, "team-a")
    assert (await api.get("/v1/files", headers=bearer(created["key"]))).status_code == 200

    r = await api.delete(f"/v1/admin/keys/{created['id']}", headers=bearer(ADMIN))
    after = await api.get("/v1/files", headers=bearer(created["key"]))

    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    assert error(after) == (401, "unauthenticated", "authentication_error")
    assert "revoked" in after.json()["error"]["message"]


async def test_project_key_cannot_use_admin_api(api):
    created = await new_key(api, "team-a")

    r = await api.post("/v1/admin/keys", json={"project_id": "team-a"},
                       headers=bearer(created["key"]))

    assert error(r) == (403, "permission_denied", "permission_error")


async def test_key_for_unknown_project_is_404_naming_it(api):
    r = await api.post("/v1/admin/keys", json={"project_id": "nobody"}, headers=bearer(ADMIN))

    assert error(r)[:2] == (404, "not_found")
    assert "nobody" in r.json()["error"]["message"]


async def test_duplicate_project_is_409(api):
    await new_key(api, "team-a")

    r = await api.post("/v1/admin/projects", json={"id": "team-a"}, headers=bearer(ADMIN))

    assert error(r)[:2] == (409, "conflict") and r.json()["error"]["param"] == "id"


async def test_revoking_unknown_key_is_404(api):
    r = await api.delete("/v1/admin/keys/key_nope", headers=bearer(ADMIN))

    assert error(r)[:2] == (404, "not_found") and "key_nope" in r.json()["error"]["message"]


async def test_health_and_metrics_need_no_key(api):
    assert (await api.get("/health")).status_code == 200
    assert (await api.get("/metrics")).status_code == 200


async def test_without_admin_key_on_loopback_auth_is_off(nats_url, event_prefix, database_url):
    async with gateway(nats_url, event_prefix, database_url) as (client, _):
        r = await client.get("/v1/files")

    assert r.status_code == 200, r.text


async def test_a_key_revoked_on_one_replica_is_refused_at_once_on_the_others(
        nats_url, event_prefix, database_url):
    async with gateway(nats_url, event_prefix, database_url, admin_key=ADMIN) as (a, _), \
            gateway(nats_url, event_prefix, database_url, admin_key=ADMIN) as (b, _):
        # B would remember a verified key for a minute: only the broadcast can make it forget.
        b._transport.app.state.tenancy.auth.ttl_s = 60
        created = await new_key(a, "team-a")
        assert (await b.get("/v1/files", headers=bearer(created["key"]))).status_code == 200

        assert (await a.delete(f"/v1/admin/keys/{created['id']}",
                               headers=bearer(ADMIN))).status_code == 200
        for _ in range(20):  # the message is on its way when the DELETE answers
            after = await b.get("/v1/files", headers=bearer(created["key"]))
            if after.status_code == 401:
                break
            await asyncio.sleep(0.05)
        assert error(after) == (401, "unauthenticated", "authentication_error")
