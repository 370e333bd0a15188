"""The registry's round-trip check, naming and export archive, on tiny-qwen2's real tokenizer."""

import io
import json
import shutil
import tarfile

import pytest

from services.common.artifacts import LocalArtifactStore
from services.registry import naming
from services.registry.export import plan, stream
from services.registry.facts import inspect
from services.registry.samples import PROBES, pick_samples
from services.registry.serving import (
    CheckFailed,
    download_tokenizer,
    load_tokenizer,
    round_trip,
    serving_spec,
)
from services.registry.verify import verify

ENDOFTEXT_ID, IM_END_ID = 0, 2
CONVERSATION = {"id": "rec-7", "messages": [
    {"role": "system", "content": "You are Xiaozhi."},
    {"role": "user", "content": "你是谁"},
    {"role": "assistant", "content": "我是小智。"},
    {"role": "user", "content": "Thanks!"},
    {"role": "assistant", "content": "You are welcome.", "weight": 0},
]}


@pytest.fixture
def store(tmp_path, tiny_model_dir) -> LocalArtifactStore:
    store = LocalArtifactStore(tmp_path / "artifacts")
    store.put_dir("models/tiny", tiny_model_dir)
    return store


def variant(store, tiny_model_dir, tmp_path, prefix: str, template: str,
            generation: dict | None = None) -> str:
    """tiny-qwen2's tokenizer under `prefix` with another chat template (and generation config)."""
    folder = tmp_path / prefix.replace("/", "_")
    shutil.copytree(tiny_model_dir, folder)
    (folder / "chat_template.jinja").write_text(template)
    if generation is not None:
        (folder / "generation_config.json").write_text(json.dumps(generation))
    store.put_dir(prefix, folder)
    return prefix


def chatml(tiny_model_dir) -> str:
    return (tiny_model_dir / "chat_template.jinja").read_text()


def test_tiny_model_passes_with_its_template_and_im_end_as_stop(store, tmp_path):
    checked = verify(store, "models/tiny", "", "request", [CONVERSATION, *PROBES], tmp_path)
    assert checked.error == {}
    assert checked.round_trip == {"passed": True, "source": "request", "examples_checked": 3,
                                  "message": ""}
    assert checked.serving["stop_token_ids"] == [ENDOFTEXT_ID, IM_END_ID]
    assert checked.serving["chat_template"].startswith("{#- ChatML")
    assert len(checked.serving["tokenizer_sha256"]) == 64


def test_fine_tuned_model_with_a_changed_template_fails_naming_the_example_and_token(
        store, tiny_model_dir, tmp_path):
    wrong = chatml(tiny_model_dir).replace("'\\n' + message['content']",
                                           "': ' + message['content']")
    prefix = variant(store, tiny_model_dir, tmp_path, "models/ft-wrong", wrong)

    checked = verify(store, prefix, "models/tiny", "training_file", [CONVERSATION], tmp_path)

    assert checked.round_trip["passed"] is False
    assert checked.error["param"] == "chat_template"
    message = checked.error["message"]
    assert message.startswith("The model cannot be served as it was trained: example 'rec-7': "
                              "the stored chat template and tokenizer render ")
    assert message.endswith("first difference at token 5: serving ':' (id 28), training '\\n' "
                            "(id 201).")


def test_template_ending_replies_with_a_token_outside_the_stop_set_fails(
        store, tiny_model_dir, tmp_path):
    # Qwen-14B's classic: replies end with <|endoftext|>, the generation config stops at
    # <|im_end|> only, so the served model would never stop.
    template = chatml(tiny_model_dir).replace("'<|im_end|>'", "'<|endoftext|>'")
    prefix = variant(store, tiny_model_dir, tmp_path, "models/no-eos", template,
                     generation={"eos_token_id": IM_END_ID})

    checked = verify(store, prefix, "", "probe", PROBES, tmp_path)

    assert checked.error["param"] == "stop_token_ids"
    assert ("example 'probe-single-turn', assistant turn 1: the reply ends with "
            "'<|endoftext|>' (id 0), which is not a stop token the server honours "
            "(stop ids [2])") in checked.error["message"]


def test_untrained_assistant_turns_are_checked_for_stop_tokens_too(tiny_tokenizer):
    with pytest.raises(CheckFailed) as e:
        round_trip(tiny_tokenizer, [ENDOFTEXT_ID], tiny_tokenizer, [CONVERSATION])
    assert "assistant turn 1" in e.value.message


def test_adapter_without_tokenizer_is_served_with_its_parents(store, tmp_path):
    store.put_bytes("models/adapter/adapter_config.json", b"{}")
    checked = verify(store, "models/adapter", "models/tiny", "probe", PROBES, tmp_path)
    assert checked.error == {} and checked.serving["stop_token_ids"] == [0, 2]


def test_model_without_tokenizer_fails_with_the_reason(store, tmp_path):
    store.put_bytes("models/bare/config.json", b"{}")
    checked = verify(store, "models/bare", "", "probe", PROBES, tmp_path)
    assert checked.error["param"] == "tokenizer"
    assert "there are no tokenizer files under 'models/bare'" in checked.error["message"]


def test_tokenizer_without_chat_template_fails(store, tiny_model_dir, tmp_path):
    folder = tmp_path / "dl"
    files = download_tokenizer(store, "models/tiny", folder)
    (folder / "chat_template.jinja").unlink()
    tokenizer = load_tokenizer(folder, "the model's")
    with pytest.raises(CheckFailed, match="the tokenizer has no chat template"):
        serving_spec(tokenizer, folder, [f for f in files if f != "chat_template.jinja"])


def test_samples_come_from_the_request_then_the_training_file_then_probes(store):
    line = json.dumps({"id": "a", "messages": CONVERSATION["messages"]})
    store.put_bytes("datasets/abc/canonical.jsonl", ((line + "\n") * 5).encode())
    assert pick_samples(store, [CONVERSATION], {}, 8) == ("request", [CONVERSATION])
    source, found = pick_samples(store, [], {"training_file_sha256": "abc"}, 3)
    assert source == "training_file" and [s["id"] for s in found] == ["a"] * 3
    assert pick_samples(store, [], {"training_file_sha256": "gone"}, 3) == ("probe", PROBES)


@pytest.mark.parametrize(("model_id", "name", "step"), [
    ("ft:tiny-qwen2:xiaozhi:abcd1234", "ft:tiny-qwen2:xiaozhi", 0),
    ("ft:tiny-qwen2:xiaozhi:abcd1234:ckpt-step-20", "ft:tiny-qwen2:xiaozhi", 20),
    ("Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-0.5B", 0),
])
def test_versions_of_one_base_and_suffix_share_a_name(model_id, name, step):
    assert (naming.default_name(model_id), naming.checkpoint_step(model_id)) == (name, step)


def test_references_select_an_alias_or_a_version():
    assert naming.parse_reference("ft:a:b@production") == naming.Reference(
        name="ft:a:b", alias="production")
    assert naming.parse_reference("ft:a:b@3") == naming.Reference(name="ft:a:b", version=3)
    assert naming.parse_reference("tiny") == naming.Reference(model_id="tiny")


def test_export_streams_a_tar_of_exactly_the_planned_size(store, tiny_model_dir):
    archive = plan(store, "models/tiny", "ft:tiny:x:1", mtime=0)
    data = b"".join(stream(store, archive))
    assert archive.filename == "ft-tiny-x-1.tar" and len(data) == archive.size
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = sorted(tar.getnames())
        assert tar.extractfile("ft-tiny-x-1/config.json").read() == \
            (tiny_model_dir / "config.json").read_bytes()
    assert names == sorted(f"ft-tiny-x-1/{p.name}" for p in tiny_model_dir.iterdir())


def test_corrupt_weights_are_a_problem_recorded_on_the_model_not_a_crash(store):
    store.put_bytes("models/broken/config.json", b'{"architectures": ["Qwen2ForCausalLM"]}')
    store.put_bytes("models/broken/model.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{bad")

    facts = inspect(store, "models/broken")

    assert facts.problem.startswith("'models/broken/model.safetensors' is not a valid "
                                    "safetensors file")
