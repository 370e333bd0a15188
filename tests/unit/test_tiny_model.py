"""tiny-qwen2: a deterministic, quick, local build that loads like any Qwen2 checkpoint."""

import json

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2ForCausalLM

from services.registry.tiny_model import MARKER_FILE, RECIPE_VERSION, build_tiny_model


def test_two_builds_write_identical_tokenizer_and_weights(tiny_model_dir, tmp_path):
    second = build_tiny_model(tmp_path / "again")

    for name in ["tokenizer.json", "model.safetensors", "config.json", "generation_config.json"]:
        assert (second / name).read_bytes() == (tiny_model_dir / name).read_bytes(), name


def test_build_over_a_complete_build_returns_without_writing(tiny_model_dir, capsys):
    weights = tiny_model_dir / "model.safetensors"
    written_at = weights.stat().st_mtime_ns

    assert build_tiny_model(tiny_model_dir) == tiny_model_dir

    assert f"tiny-qwen2 recipe {RECIPE_VERSION} already built" in capsys.readouterr().out
    assert weights.stat().st_mtime_ns == written_at


def test_build_with_a_missing_file_builds_again(tiny_model_dir, tmp_path):
    out = build_tiny_model(tmp_path / "partial")
    (out / "model.safetensors").unlink()

    build_tiny_model(out)

    weights = "model.safetensors"
    assert (out / weights).read_bytes() == (tiny_model_dir / weights).read_bytes()


def test_marker_records_recipe_and_every_file(tiny_model_dir):
    marker = json.loads((tiny_model_dir / MARKER_FILE).read_text())

    assert (marker["name"], marker["recipe_version"]) == ("tiny-qwen2", RECIPE_VERSION)
    assert marker["files"] == [
        "chat_template.jinja", "config.json", "generation_config.json",
        "model.safetensors", "tokenizer.json", "tokenizer_config.json",
    ]


def test_tokenizer_loads_as_fast_chatml_tokenizer(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)

    assert tokenizer.is_fast
    assert (tokenizer.eos_token, tokenizer.pad_token, tokenizer.bos_token) == (
        "<|im_end|>", "<|endoftext|>", None)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    assert tokenizer.convert_tokens_to_ids(specials) == [0, 1, 2]
    assert 1000 < len(tokenizer) < 6000


def test_chinese_and_english_text_round_trips_through_the_tokenizer(tiny_tokenizer):
    text = "您好，我是小智，一个由360智汇云开发的 AI 助手。Hello!  I'm Xiaozhi.\n量子力学 ☃ émigré 🚀"

    ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]

    assert tiny_tokenizer.decode(ids) == text
    assert len(ids) < len(text.encode("utf-8"))


def test_model_loads_as_qwen2_with_under_five_million_parameters(tiny_model_dir, tiny_tokenizer):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)

    assert isinstance(model, Qwen2ForCausalLM)
    assert model.num_parameters() < 5_000_000
    config = model.config
    assert (config.hidden_size, config.intermediate_size, config.num_hidden_layers,
            config.num_attention_heads, config.num_key_value_heads) == (256, 688, 4, 4, 2)
    assert (config.vocab_size, config.tie_word_embeddings, config.max_position_embeddings) == (
        len(tiny_tokenizer), True, 2048)
    assert model.dtype == torch.float32


def test_generation_config_stops_at_im_end_or_endoftext(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)

    assert model.generation_config.eos_token_id == [2, 0]
    assert model.generation_config.pad_token_id == 0


def test_forward_pass_gives_logits_over_the_vocabulary(tiny_model_dir, tiny_tokenizer):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    ids = torch.tensor([tiny_tokenizer("你好 hello", add_special_tokens=False)["input_ids"]])

    with torch.no_grad():
        logits = model(input_ids=ids).logits

    assert logits.shape == (1, ids.shape[1], len(tiny_tokenizer))
