"""Two projects × every resource × every verb: another project's object is a 404 everywhere,
lists show only the caller's objects, base models are shared."""

from dataclasses import dataclass

import pytest

from tests.integration.gateway_stack import BASE, Fakes, gateway

ADMIN = "tf-admin-isolation"


@dataclass
class World:
    client: object
    fakes: Fakes
    a: dict  # the owner's key header
    b: dict  # the other project's
    ids: dict


async def key_of(client, project: str) -> dict:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert (await client.post("/v1/admin/projects", json={"id": project},
                              headers=admin)).status_code == 200
    r = await client.post("/v1/admin/keys", json={"project_id": project}, headers=admin)
    return {"Authorization": f"Bearer {r.json()['key']}"}


@pytest.fixture
async def world(nats_url, event_prefix, database_url):
    """Project A owns a file, a job, the job's model, a merged model, an alias, a deployment."""
    async with gateway(nats_url, event_prefix, database_url, admin_key=ADMIN) as (c, fakes):
        a, b = await key_of(c, "team-a"), await key_of(c, "team-b")
        file_id = (await c.post("/v1/files", headers=a, data={"purpose": "fine-tune"},
                                files={"file": ("a.jsonl", b"{}\n")})).json()["id"]
        job_id = (await c.post("/v1/fine_tuning/jobs", headers=a, json={
            "model": BASE, "training_file": file_id})).json()["id"]
        model = fakes.training.succeed(job_id)  # learned from the job, never polled
        merged = (await c.post(f"/v1/registry/models/{model}/merge", headers=a,
                               json={"new_id": "merged-a"})).json()["id"]
        assert (await c.put(f"/v1/registry/models/{model}/aliases/prod", headers=a,
                            json={"model": model})).status_code == 200
        dep = (await c.post("/v1/deployments", headers=a, json={"model": model})).json()["id"]
        yield World(c, fakes, a, b, dict(file=file_id, job=job_id, model=model,
                                         merged=merged, dep=dep))


CHAT = {"messages": [{"role": "user", "content": "hi"}]}

# (method, path, body): every route that names project A's object.
VERBS = [
    ("GET", "/v1/files/{file}", None),
    ("GET", "/v1/files/{file}/content", None),
    ("GET", "/v1/files/{file}/report", None),
    ("GET", "/v1/files/{file}/stats?model=" + BASE, None),
    ("GET", "/v1/files/{file}/preview?model=" + BASE, None),
    ("DELETE", "/v1/files/{file}", None),
    ("POST", "/v1/fine_tuning/jobs", {"model": BASE, "training_file": "{file}"}),
    ("POST", "/v1/fine_tuning/jobs", {"model": "{model}", "training_file": "{own_file}"}),
    ("GET", "/v1/fine_tuning/jobs/{job}", None),
    ("POST", "/v1/fine_tuning/jobs", {"model": BASE, "training_file": "{own_file}",
                                      "validation_file": "{file}"}),
    ("POST", "/v1/fine_tuning/jobs/estimate", {"model": BASE, "training_file": "{file}"}),
    ("GET", "/v1/fine_tuning/jobs/{job}/events", None),
    ("GET", "/v1/fine_tuning/jobs/{job}/events?stream=true", None),
    ("GET", "/v1/fine_tuning/jobs/{job}/checkpoints", None),
    ("GET", "/v1/fine_tuning/jobs/{job}/logs", None),
    ("POST", "/v1/fine_tuning/jobs/{job}/pause", None),
    ("POST", "/v1/fine_tuning/jobs/{job}/resume", None),
    ("POST", "/v1/fine_tuning/jobs/{job}/cancel", None),
    ("GET", "/v1/models/{model}", None),
    ("GET", "/v1/models/{merged}", None),
    ("GET", "/v1/models/{model}/download", None),
    ("DELETE", "/v1/models/{model}", None),
    ("GET", "/v1/registry/models/{model}", None),
    ("GET", "/v1/registry/models/{model}@prod", None),
    ("POST", "/v1/registry/models/{model}/merge", {}),
    ("PUT", "/v1/registry/models/{model}/aliases/prod", {"model": "{model}"}),
    ("DELETE", "/v1/registry/models/{model}/aliases/prod", None),
    ("POST", "/v1/registry/models", {"id": "mine", "source": "s3://x/y", "kind": "fine-tuned",
                                     "parent": "{model}"}),
    ("GET", "/v1/files/{own_file}/stats?model={model}", None),
    ("POST", "/v1/deployments", {"model": "{model}"}),
    ("GET", "/v1/deployments/{dep}", None),
    ("DELETE", "/v1/deployments/{dep}", None),
    ("POST", "/v1/chat/completions", {"model": "{model}", **CHAT}),
    ("POST", "/v1/completions", {"model": "{model}", "prompt": "hi"}),
]


def fill(value, ids: dict):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("method", "path", "body"), VERBS,
                         ids=[f"{m} {p}" + (" (body)" if b else "") for m, p, b in VERBS])
async def test_other_project_gets_404_for_owned_object(world, method, path, body):
    own_file = (await world.client.post("/v1/files", headers=world.b,
                                        data={"purpose": "fine-tune"},
                                        files={"file": ("b.jsonl", b"{}\n")})).json()["id"]
    ids = {**world.ids, "own_file": own_file}

    r = await world.client.request(method, fill(path, ids), json=fill(body, ids),
                                   headers=world.b)

    assert r.status_code == 404, (r.status_code, r.text)
    err = r.json()["error"]
    assert err["code"] in ("not_found", "model_not_found")
    assert any(v in err["message"] for v in world.ids.values()), err["message"]


async def test_owner_still_reaches_every_object_after_the_other_project_tried(world):
    for method, path, body in VERBS:
        if method in ("GET",) and "{own_file}" not in path:
            await world.client.request(method, fill(path, world.ids), headers=world.b)
    for path in ("/v1/files/{file}", "/v1/fine_tuning/jobs/{job}", "/v1/models/{model}",
                 "/v1/registry/models/{model}@prod", "/v1/deployments/{dep}"):
        r = await world.client.get(fill(path, world.ids), headers=world.a)
        assert r.status_code == 200, (path, r.text)


async def test_owner_can_chat_with_its_fine_tuned_model(world):
    r = await world.client.post("/v1/chat/completions", headers=world.a,
                                json={"model": world.ids["model"], **CHAT})

    assert r.status_code == 200, r.text


LISTS = {"/v1/files": "file", "/v1/fine_tuning/jobs": "job", "/v1/deployments": "dep",
         "/v1/models": "model", "/v1/registry/models": "model"}


@pytest.mark.parametrize("path", list(LISTS))
async def test_lists_hold_only_the_callers_objects(world, path):
    mine = [o["id"] for o in (await world.client.get(path, headers=world.a)).json()["data"]]
    theirs = [o["id"] for o in (await world.client.get(path, headers=world.b)).json()["data"]]

    assert world.ids[LISTS[path]] in mine
    assert world.ids[LISTS[path]] not in theirs and world.ids["merged"] not in theirs


@pytest.mark.parametrize("path", ["/v1/models", "/v1/registry/models"])
async def test_base_models_are_shared_with_every_project(world, path):
    theirs = [o["id"] for o in (await world.client.get(path, headers=world.b)).json()["data"]]

    assert BASE in theirs


async def test_project_key_cannot_delete_a_shared_base_model(world):
    r = await world.client.delete(f"/v1/models/{BASE}", headers=world.b)

    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    assert BASE in world.fakes.registry.models


async def test_services_see_the_callers_project_and_request_id(world):
    r = await world.client.post("/v1/files", headers={**world.b, "X-Request-Id": "req-b-1"},
                                data={"purpose": "fine-tune"},
                                files={"file": ("b.jsonl", b"{}\n")})

    assert r.status_code == 200 and r.headers["x-request-id"] == "req-b-1"
    assert world.fakes.dataset.uploaded_in[0][0] == "team-a"  # the fixture's upload
    assert world.fakes.dataset.uploaded_in[-1] == ("team-b", "req-b-1")
