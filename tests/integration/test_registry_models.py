"""Registering, checking, versioning, aliasing and deleting models over real gRPC, NATS and SQL
(SQLite, or PostgreSQL with TUNEFORGE_TEST_DATABASE_URL)."""

import asyncio
import json
import shutil

import grpc
import pytest

from services.common.artifacts import LocalArtifactStore
from services.common.events import AliasMoved, ModelDeleted, ModelFailed, ModelRegistered
from services.registry.tiny_model import MARKER_FILE, build_tiny_model
from tests.integration.registry_stack import registry, registry_settings, rpc_error
from tests.support import free_port
from tuneforge.v1 import registry_pb2 as pb

BASE = "tiny-qwen2"
FT = "ft:tiny-qwen2:xz"
CONVERSATION = pb.SampleConversation(id="rec-1", messages=[
    pb.SampleMessage(role="user", content="你是谁"),
    pb.SampleMessage(role="assistant", content="我是小智。")])


@pytest.fixture(scope="module")
def imports(tmp_path_factory):
    """The directory models may be registered from, holding tiny-qwen2."""
    root = tmp_path_factory.mktemp("imports")
    build_tiny_model(root / BASE)
    return root


@pytest.fixture
async def reg(tmp_path, imports, nats_url, event_prefix, database_url):
    settings = registry_settings(tmp_path, nats_url, event_prefix, database_url,
                                 import_dirs=[imports])
    async with registry(settings) as r:
        await r.stub.RegisterModel(pb.RegisterModelRequest(id=BASE, source=str(imports / BASE)))
        yield r


def variant(imports, name: str, template_edit=None, generation: dict | None = None):
    """A copy of tiny-qwen2 under the import dir with its template or generation config edited."""
    folder = imports / name
    if not folder.exists():
        shutil.copytree(imports / BASE, folder)
        if template_edit:
            template = folder / "chat_template.jinja"
            template.write_text(template_edit(template.read_text()))
        if generation is not None:
            (folder / "generation_config.json").write_text(json.dumps(generation))
    return folder


async def fine_tuned(reg, model_id: str, prefix: str = f"models/{BASE}", **kw) -> pb.Model:
    return await reg.stub.RegisterModel(pb.RegisterModelRequest(
        id=model_id, kind="fine-tuned", parent=BASE, artifact_prefix=prefix, **kw))


async def expect_error(call) -> tuple[str, str | None, str]:
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await call
    return rpc_error(e.value)


async def until(predicate, timeout: float = 5.0):
    """Wait for events delivered asynchronously to satisfy `predicate`."""
    for _ in range(int(timeout / 0.05)):
        if found := predicate():
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_base_model_from_a_directory_is_copied_inspected_and_checked(reg, imports):
    m = await reg.stub.GetModel(pb.GetModelRequest(id=BASE))

    marker = json.loads((imports / BASE / MARKER_FILE).read_text())
    files = [p for p in (imports / BASE).iterdir()]
    assert (m.status, m.kind, m.format, m.architecture) == ("ready", "base", "full",
                                                            "Qwen2ForCausalLM")
    assert (m.num_parameters, m.dtype, m.context_length) == (marker["num_parameters"],
                                                             "float32", 2048)
    assert m.size_bytes == sum(p.stat().st_size for p in files)
    assert (m.name, m.version, m.root, m.lineage.created_by) == (BASE, 1, BASE, "user")
    assert m.serving.chat_template == (imports / BASE / "chat_template.jinja").read_text()
    assert list(m.serving.stop_token_ids) == [0, 2]
    assert json.loads(m.serving.generation_config_json)["eos_token_id"] == [2, 0]
    assert (m.round_trip.passed, m.round_trip.source, m.round_trip.examples_checked) == (
        True, "probe", 2)
    store = LocalArtifactStore(reg.settings.artifact_root)
    assert sorted(o.key for o in store.list(f"models/{BASE}/")) == sorted(
        f"models/{BASE}/{p.name}" for p in files)
    registered = await until(lambda: reg.events_of(ModelRegistered))
    assert (registered[0].model, registered[0].name, registered[0].version) == (BASE, BASE, 1)


async def test_directory_outside_the_import_dirs_is_refused(reg, tmp_path):
    code, param, message = await expect_error(reg.stub.RegisterModel(
        pb.RegisterModelRequest(id="etc", source=str(tmp_path))))
    assert (code, param) == ("permission_denied", "source")
    assert message.startswith(f"source '{tmp_path}' is outside the directories models may be "
                              "registered from")


async def test_registration_without_files_or_source_names_artifact_prefix(reg):
    code, param, message = await expect_error(reg.stub.RegisterModel(
        pb.RegisterModelRequest(id="nothing", kind="base")))
    assert (code, param) == ("invalid_argument", "artifact_prefix")
    assert "Give artifact_prefix" in message


async def test_fine_tuned_model_rendering_other_ids_than_training_is_registered_failed(
        reg, imports):
    folder = variant(imports, "wrong-template", lambda t: t.replace(
        "'\\n' + message['content']", "': ' + message['content']"))
    sha = "cd" * 32
    store = LocalArtifactStore(reg.settings.artifact_root)
    store.put_dir("models/ftjob-wrong", folder)
    store.put_bytes(f"datasets/{sha}/canonical.jsonl", json.dumps(
        {"id": "line-1", "messages": [{"role": "user", "content": "hi"},
                                      {"role": "assistant", "content": "hello"}]}).encode())

    m = await fine_tuned(reg, f"{FT}:wrong001", "models/ftjob-wrong",
                         lineage=pb.Lineage(training_file_sha256=sha))

    assert m.status == "failed"
    assert (m.round_trip.passed, m.round_trip.source) == (False, "training_file")
    assert (m.error.code, m.error.param) == ("invalid_argument", "chat_template")
    assert m.error.message.startswith("The model cannot be served as it was trained: example "
                                      "'line-1': the stored chat template and tokenizer render")
    failed = await until(lambda: reg.events_of(ModelFailed))
    assert failed[0].model == m.id and failed[0].error["param"] == "chat_template"


async def test_model_whose_replies_end_without_a_stop_token_is_registered_failed(reg, imports):
    folder = variant(imports, "no-eos", lambda t: t.replace("'<|im_end|>'", "'<|endoftext|>'"),
                     generation={"eos_token_id": 2})

    m = await reg.stub.RegisterModel(pb.RegisterModelRequest(id="no-eos", source=str(folder)))

    assert (m.status, m.error.param) == ("failed", "stop_token_ids")
    assert "which is not a stop token the server honours (stop ids [2])" in m.error.message


async def test_samples_in_the_request_are_what_the_check_renders(reg):
    m = await fine_tuned(reg, f"{FT}:sampled1", samples=[CONVERSATION])
    assert (m.status, m.round_trip.source, m.round_trip.examples_checked) == (
        "ready", "request", 1)


async def test_sample_with_an_unknown_role_is_refused_naming_it(reg):
    bad = pb.SampleConversation(messages=[pb.SampleMessage(role="bot", content="x")])
    code, param, _ = await expect_error(fine_tuned(reg, f"{FT}:badrole1", samples=[bad]))
    assert (code, param) == ("invalid_argument", "samples[0].messages[0].role")


async def test_jobs_of_one_base_and_suffix_are_versions_an_alias_can_move_between(reg):
    v1 = await fine_tuned(reg, f"{FT}:job00001")
    v2 = await fine_tuned(reg, f"{FT}:job00002")
    ckpt = await fine_tuned(reg, f"{FT}:job00002:ckpt-step-5")
    assert [(m.name, m.version) for m in (v1, v2, ckpt)] == [(FT, 1), (FT, 2), (FT, 3)]
    assert ckpt.checkpoint_step == 5

    first = await reg.stub.SetAlias(pb.SetAliasRequest(name=FT, alias="production", model=v1.id))
    moved = await reg.stub.SetAlias(pb.SetAliasRequest(name=FT, alias="production",
                                                       model=f"{FT}@2"))

    assert (first.model, first.previous_model) == (v1.id, "")
    assert (moved.model, moved.version, moved.previous_model) == (v2.id, 2, v1.id)
    followed = await reg.stub.GetModel(pb.GetModelRequest(id=f"{FT}@production"))
    assert (followed.id, list(followed.aliases)) == (v2.id, ["production"])
    assert (await reg.stub.GetModel(pb.GetModelRequest(id=f"{FT}@1"))).id == v1.id
    versions = await reg.stub.ListModels(pb.ListModelsRequest(name=FT))
    assert [m.version for m in versions.data] == [1, 2, 3]
    events = await until(lambda: len(reg.events_of(AliasMoved)) == 2 and
                         reg.events_of(AliasMoved))
    assert [(e.model, e.previous_model) for e in events] == [(v1.id, ""), (v2.id, v1.id)]


async def test_alias_only_points_at_a_ready_version_of_its_own_name(reg, imports):
    good = await fine_tuned(reg, f"{FT}:job00001")
    no_eos = variant(imports, "no-eos", lambda t: t.replace("'<|im_end|>'", "'<|endoftext|>'"),
                     generation={"eos_token_id": 2})
    failed = await reg.stub.RegisterModel(pb.RegisterModelRequest(
        id="no-eos-2", source=str(no_eos)))

    cases = [
        (pb.SetAliasRequest(name="no-eos-2", alias="production", model=failed.id),
         ("conflict", "model"), f"The model '{failed.id}' is failed"),
        (pb.SetAliasRequest(name=BASE, alias="production", model=good.id),
         ("invalid_argument", "model"), f"The model '{good.id}' is a version of '{FT}', not "
                                        f"of '{BASE}'."),
        (pb.SetAliasRequest(name=FT, alias="Prod!", model=good.id),
         ("invalid_argument", "alias"), "'Prod!' is not a valid alias"),
        (pb.SetAliasRequest(name=FT, alias="staging", model=f"{FT}@9"),
         ("model_not_found", "model"), f"The model '{FT}@9' does not exist."),
    ]
    for request, expected, message in cases:
        code, param, text = await expect_error(reg.stub.SetAlias(request))
        assert (code, param) == expected and text.startswith(message), text


async def test_delete_is_refused_while_a_model_is_a_base_is_deployed_or_has_an_alias(reg):
    ft = await fine_tuned(reg, f"{FT}:job00001")
    await reg.stub.SetAlias(pb.SetAliasRequest(name=FT, alias="production", model=ft.id))
    reg.inference.deploy("other", "ready")
    reg.inference.deploy(ft.id, "deleted")
    following = reg.inference.deploy(f"{FT}@production", "loading")  # found on page 2

    def delete(model_id):
        return expect_error(reg.stub.DeleteModel(pb.DeleteModelRequest(id=model_id)))

    assert await delete(BASE) == ("conflict", "model", f"The model '{BASE}' is the base of "
                                                       f"{ft.id}; delete those first.")
    assert await delete(ft.id) == ("conflict", "model", f"The model '{ft.id}' is deployed as "
                                   f"{following.id} (status loading); delete that deployment "
                                   "first.")
    following.status = "deleted"
    assert await delete(ft.id) == ("conflict", "model", f"The model '{ft.id}' is "
                                   f"{FT}@production; move or delete the alias first.")


async def test_delete_removes_the_record_and_its_files_unless_another_model_shares_them(reg):
    store = LocalArtifactStore(reg.settings.artifact_root)
    shared = await fine_tuned(reg, f"{FT}:shared01")  # its files are tiny-qwen2's
    store.put_dir("models/own", reg.settings.artifact_root / "models" / BASE)
    own = await fine_tuned(reg, f"{FT}:own00001", "models/own")

    for m in (shared, own):
        done = await reg.stub.DeleteModel(pb.DeleteModelRequest(id=m.id))
        assert (done.id, done.deleted) == (m.id, True)

    assert store.list("models/own/") == []
    assert store.exists(f"models/{BASE}/config.json")
    code, _, _ = await expect_error(reg.stub.GetModel(pb.GetModelRequest(id=own.id)))
    assert code == "model_not_found"
    deleted = await until(lambda: len(reg.events_of(ModelDeleted)) == 2 and
                          reg.events_of(ModelDeleted))
    assert [e.model for e in deleted] == [shared.id, own.id]


async def test_delete_with_the_inference_service_down_is_unavailable(
        tmp_path, imports, nats_url, event_prefix, database_url):
    addr = f"127.0.0.1:{free_port()}"
    settings = registry_settings(tmp_path, nats_url, event_prefix, database_url,
                                 import_dirs=[imports], inference_addr=addr,
                                 inference_timeout_s=2)
    async with registry(settings, inference_up=False) as reg:
        await reg.stub.RegisterModel(pb.RegisterModelRequest(id=BASE, source=str(imports / BASE)))
        code, param, message = await expect_error(
            reg.stub.DeleteModel(pb.DeleteModelRequest(id=BASE)))
    assert (code, param) == ("unavailable", "model")
    assert message.startswith(f"The inference service at {addr} cannot say what is deployed")
