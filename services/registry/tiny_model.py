"""Build `tiny-qwen2`, a few-million-parameter Qwen2 base model, locally and deterministically.

It stands in for a real base model wherever the hub cannot be reached (tests, CPU-only hosts):
a byte-level BPE tokenizer trained on a shipped corpus plus the example dataset, ChatML
special tokens like Qwen's, and a randomly initialised `Qwen2ForCausalLM`.

    python -m services.registry.tiny_model OUT_DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

# torch, tokenizers and transformers are imported where a build needs them: importing them
# takes seconds, and finding an existing build must not.
if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from transformers import Qwen2Tokenizer

MODEL_NAME = "tiny-qwen2"
# Bump whenever anything below changes what a build writes.
RECIPE_VERSION = 1
MARKER_FILE = "tuneforge_build.json"

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = [ENDOFTEXT, IM_START, IM_END]
# An upper bound: a few hundred lines support only about 1,500 tokens seen at least twice.
VOCAB_SIZE = 4096
SEED = 0

_HERE = Path(__file__).resolve().parent
CORPUS_FILE = _HERE / "tiny_corpus.txt"
CHAT_TEMPLATE_FILE = _HERE / "chatml.jinja"
EXAMPLE_DATASET = _HERE.parents[1] / "examples" / "self_cognition.json"

_MODEL_DIMS = dict(
    hidden_size=256,
    intermediate_size=688,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=2048,
    rope_theta=1_000_000.0,
    rms_norm_eps=1e-6,
    tie_word_embeddings=True,
)


def training_texts() -> list[str]:
    """The tokenizer's training corpus: the shipped sentences plus every example turn."""
    texts = CORPUS_FILE.read_text(encoding="utf-8").splitlines()
    records = json.loads(EXAMPLE_DATASET.read_text(encoding="utf-8"))
    # Each turn as ChatML shows it, so the role names become whole tokens too.
    texts += [
        f"{turn['from']}\n{turn['value']}"
        for record in records
        for turn in record["conversations"]
    ]
    return [text for text in texts if text.strip()]


def _recipe(texts: list[str]) -> dict:
    digest = hashlib.sha256()
    for part in [*texts, CHAT_TEMPLATE_FILE.read_text(encoding="utf-8")]:
        digest.update(part.encode("utf-8") + b"\0")
    return {
        "name": MODEL_NAME,
        "recipe_version": RECIPE_VERSION,
        "inputs_sha256": digest.hexdigest(),
    }


def _is_complete(out_dir: Path, recipe: dict) -> bool:
    marker = out_dir / MARKER_FILE
    if not marker.is_file():
        return False
    built = json.loads(marker.read_text(encoding="utf-8"))
    files_present = all((out_dir / name).is_file() for name in built.get("files", []))
    return files_present and {k: built.get(k) for k in recipe} == recipe


def train_tokenizer(texts: list[str]) -> Tokenizer:
    """Train the byte-level BPE; special tokens take ids 0, 1, 2."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.trainers import BpeTrainer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    # The same normalizer and pre-tokenizer Qwen2Tokenizer rebuilds on load. Its split keeps
    # a run of CJK letters as one word, so BPE learns multi-character Chinese tokens.
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def _save_tokenizer(tokenizer: Tokenizer, out_dir: Path) -> Qwen2Tokenizer:
    from transformers import Qwen2Tokenizer

    # Saved as a Qwen2Tokenizer so loading takes the same path as a real Qwen checkpoint.
    bpe = json.loads(tokenizer.to_str())["model"]
    wrapped = Qwen2Tokenizer(
        vocab=bpe["vocab"],
        merges=[tuple(merge) for merge in bpe["merges"]],
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        unk_token=None,
        bos_token=None,
        extra_special_tokens=[IM_START, IM_END],
        model_max_length=_MODEL_DIMS["max_position_embeddings"],
        padding_side="right",
        clean_up_tokenization_spaces=False,
    )
    wrapped.chat_template = CHAT_TEMPLATE_FILE.read_text(encoding="utf-8")
    wrapped.save_pretrained(out_dir)
    return wrapped


def _save_model(tokenizer: Qwen2Tokenizer, out_dir: Path) -> int:
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    endoftext_id = tokenizer.convert_tokens_to_ids(ENDOFTEXT)
    im_end_id = tokenizer.convert_tokens_to_ids(IM_END)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        bos_token_id=endoftext_id,
        eos_token_id=im_end_id,
        pad_token_id=endoftext_id,
        dtype="float32",
        **_MODEL_DIMS,
    )
    torch.manual_seed(SEED)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=endoftext_id,
        eos_token_id=[im_end_id, endoftext_id],
        pad_token_id=endoftext_id,
    )
    model.save_pretrained(out_dir)
    return model.num_parameters()


def build_tiny_model(out_dir: Path) -> Path:
    """Build tiny-qwen2 into `out_dir`, or return at once if the same recipe is already there."""
    out_dir = Path(out_dir)
    texts = training_texts()
    recipe = _recipe(texts)
    if _is_complete(out_dir, recipe):
        print(f"{MODEL_NAME} recipe {RECIPE_VERSION} already built in {out_dir}")
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MARKER_FILE).unlink(missing_ok=True)
    tokenizer = _save_tokenizer(train_tokenizer(texts), out_dir)
    num_parameters = _save_model(tokenizer, out_dir)
    files = sorted(p.name for p in out_dir.iterdir() if p.is_file())
    marker = {
        **recipe,
        "vocab_size": len(tokenizer),
        "num_parameters": num_parameters,
        "files": files,
    }
    # Written last: its presence means every other file is complete.
    (out_dir / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    print(f"built {MODEL_NAME} in {out_dir}: {len(tokenizer)} tokens, {num_parameters:,} params")
    return out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="directory to build the model into")
    build_tiny_model(parser.parse_args().out_dir)


if __name__ == "__main__":
    main()
