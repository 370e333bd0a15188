"""Merging a LoRA adapter into its base model's weights with PEFT."""

import shutil
import tempfile
from pathlib import Path

from services.common.artifacts import ArtifactStore
from services.registry.serving import is_tokenizer_file


def merge_adapter(artifacts: ArtifactStore, base_prefix: str, adapter_prefix: str,
                  out_prefix: str, scratch: Path) -> None:
    """Write base + adapter as one full-weight safetensors model under `out_prefix` (blocking)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        base_dir, adapter_dir, out_dir = (Path(tmp) / d for d in ("base", "adapter", "out"))
        artifacts.get_dir(base_prefix, base_dir)
        artifacts.get_dir(adapter_prefix, adapter_dir)
        with torch.no_grad():
            # dtype "auto" keeps the base's stored precision, so the merge adds no rounding.
            base = AutoModelForCausalLM.from_pretrained(base_dir, dtype="auto")
            merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
            merged.save_pretrained(out_dir)
        # The adapter's own tokenizer files win: they are what it was trained and checked with.
        for source in (base_dir, adapter_dir):
            for path in source.iterdir():
                if path.is_file() and is_tokenizer_file(path.name):
                    shutil.copy2(path, out_dir / path.name)
        artifacts.put_dir(out_prefix, out_dir)
