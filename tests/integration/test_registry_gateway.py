"""/v1/models and /v1/registry through the gateway app, over real gRPC to the registry."""

import io
import json
import tarfile

import httpx
import pytest
from transformers import AutoConfig, AutoTokenizer

from services.registry.tiny_model import build_tiny_model
from tests.integration.registry_stack import gateway, registry, registry_settings
from tuneforge.v1 import registry_pb2 as pb

BASE = "tiny-qwen2"
FT = "ft:tiny-qwen2:gw:job00001"


@pytest.fixture(scope="module")
def imports(tmp_path_factory):
    root = tmp_path_factory.mktemp("imports")
    build_tiny_model(root / BASE)
    return root


@pytest.fixture
async def api(tmp_path, imports, nats_url, event_prefix, database_url):
    """(HTTP client of the gateway, the registry behind it)."""
    settings = registry_settings(tmp_path, nats_url, event_prefix, database_url,
                                 import_dirs=[imports])
    async with registry(settings) as reg, gateway(reg) as client:
        r = await client.post("/v1/registry/models",
                              json={"id": BASE, "source": str(imports / BASE)})
        assert r.status_code == 200, r.text
        yield client, reg


def error(r: httpx.Response) -> tuple[int, str, str | None, str]:
    e = r.json()["error"]
    return r.status_code, e["code"], e["param"], e["message"]


async def register_fine_tuned(reg) -> None:
    await reg.stub.RegisterModel(pb.RegisterModelRequest(
        id=FT, kind="fine-tuned", parent=BASE, artifact_prefix=f"models/{BASE}",
        lineage=pb.Lineage(job_id="ftjob-gw", hyperparameters_json='{"n_epochs": 2}')))


async def test_models_are_listed_in_openai_shape_with_parent_and_root(api):
    client, reg = api
    await register_fine_tuned(reg)

    listed = (await client.get("/v1/models")).json()
    one = (await client.get(f"/v1/models/{FT}")).json()

    assert listed["object"] == "list"
    base = next(m for m in listed["data"] if m["id"] == BASE)
    assert {k: base[k] for k in ("object", "owned_by", "parent", "root", "max_model_len")} == {
        "object": "model", "owned_by": "user", "parent": None, "root": BASE,
        "max_model_len": 2048}
    assert (one["parent"], one["root"], one["name"], one["version"]) == (
        BASE, BASE, "ft:tiny-qwen2:gw", 1)
    assert one["lineage"]["job_id"] == "ftjob-gw" and one["lineage"]["hyperparameters"] == {
        "n_epochs": 2}


async def test_full_record_has_serving_spec_round_trip_and_follows_aliases(api, imports):
    client, reg = api
    await register_fine_tuned(reg)

    r = await client.put("/v1/registry/models/ft:tiny-qwen2:gw/aliases/production",
                         json={"model": FT})
    assert r.status_code == 200, r.text
    assert (r.json()["model"], r.json()["previous_model"]) == (FT, None)
    record = (await client.get("/v1/registry/models/ft:tiny-qwen2:gw@production")).json()

    assert (record["id"], record["aliases"]) == (FT, ["production"])
    assert record["serving"]["chat_template"] == (imports / BASE / "chat_template.jinja"
                                                  ).read_text()
    assert record["serving"]["stop_token_ids"] == [0, 2]
    assert record["round_trip"] == {"passed": True, "source": "probe", "examples_checked": 2,
                                    "message": ""}
    assert record["error"] is None
    versions = (await client.get("/v1/registry/models", params={"name": "ft:tiny-qwen2:gw"}))
    assert [m["id"] for m in versions.json()["data"]] == [FT]


async def test_delete_is_409_while_deployed_then_removes_the_model(api):
    client, reg = api
    await register_fine_tuned(reg)
    dep = reg.inference.deploy(FT)

    refused = await client.delete(f"/v1/models/{FT}")
    assert error(refused) == (409, "conflict", "model", f"The model '{FT}' is deployed as "
                              f"{dep.id} (status ready); delete that deployment first.")
    dep.status = "deleted"
    deleted = await client.delete(f"/v1/models/{FT}")
    assert deleted.json() == {"id": FT, "object": "model", "deleted": True}
    assert error(await client.get(f"/v1/models/{FT}"))[:3] == (404, "model_not_found", "model")


async def test_download_streams_a_tar_that_transformers_loads(api, tmp_path):
    client, _ = api
    r = await client.get(f"/v1/models/{BASE}/download")

    assert r.status_code == 200 and r.headers["content-type"] == "application/x-tar"
    assert r.headers["content-disposition"] == f'attachment; filename="{BASE}.tar"'
    assert int(r.headers["content-length"]) == len(r.content)
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        tar.extractall(tmp_path, filter="data")
    folder = tmp_path / BASE
    assert AutoConfig.from_pretrained(folder).architectures == ["Qwen2ForCausalLM"]
    assert AutoTokenizer.from_pretrained(folder).convert_ids_to_tokens(2) == "<|im_end|>"
    assert json.loads((folder / "generation_config.json").read_text())["eos_token_id"] == [2, 0]


async def test_errors_come_back_in_openai_envelope_naming_the_parameter(api):
    client, _ = api
    missing = await client.get("/v1/models/nope/download")
    outside = await client.post("/v1/registry/models", json={"id": "x", "source": "/etc"})
    merge = await client.post(f"/v1/registry/models/{BASE}/merge", json={})

    assert error(missing) == (404, "model_not_found", "model", "The model 'nope' does not exist.")
    assert error(outside)[:3] == (403, "permission_denied", "source")
    assert error(merge)[:3] == (400, "invalid_argument", "model")
