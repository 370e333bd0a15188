"""Unit-test fixtures: the locally built tiny-qwen2 base model and its tokenizer."""

from pathlib import Path

import pytest
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from services.registry.tiny_model import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """tiny-qwen2, built once per session (a few seconds, no download)."""
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-qwen2")


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir) -> PreTrainedTokenizerBase:
    """tiny-qwen2's tokenizer as `AutoTokenizer` loads it."""
    return AutoTokenizer.from_pretrained(tiny_model_dir)
