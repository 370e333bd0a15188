"""Saving the trained model as a plain transformers folder that loads without DeepSpeed."""

import shutil
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM

# Files of the base model that describe tokenization and generation, copied as they are.
_COPIED = ("tokenizer*", "*.jinja", "special_tokens_map.json", "added_tokens.json", "vocab*",
           "merges.txt", "generation_config.json")


def full_state_dict(engine, zero_stage: int) -> dict[str, torch.Tensor] | None:
    """The whole model's weights on rank 0 (None elsewhere); a collective under ZeRO-3."""
    if zero_stage == 3:
        # Every rank must take part: each contributes its partition of every parameter.
        state = engine._zero3_consolidated_16bit_state_dict()
    else:
        state = engine.module.state_dict() if engine.global_rank == 0 else None
    if state is None:
        return None
    return {name: t.detach().cpu() for name, t in state.items()}


def _check_shapes(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    got = {name: tuple(t.shape) for name, t in state.items()}
    problems = [f"{n} missing" for n in expected if n not in got]
    problems += [f"{n} unexpected" for n in got if n not in expected]
    problems += [f"{n} has shape {got[n]}, the config says {s}" for n, s in expected.items()
                 if n in got and got[n] != s]
    if problems:
        raise RuntimeError("gathered weights do not match the base config: "
                           + "; ".join(problems[:10]))


def save_model(state: dict[str, torch.Tensor], base_dir: Path, out_dir: Path,
               lora_config=None) -> None:
    """Rebuild the model around `state` (merging LoRA) and save it with the base's tokenizer."""
    config = AutoConfig.from_pretrained(base_dir)
    # Built on the meta device so the weights exist once: in `state`, assigned below.
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
        if lora_config is not None:
            from peft import get_peft_model

            model = get_peft_model(model, lora_config)
    _check_shapes(model, state)
    model.load_state_dict(state, strict=True, assign=True)
    if lora_config is not None:
        model = model.merge_and_unload()
    model.tie_weights()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    for pattern in _COPIED:
        for path in base_dir.glob(pattern):
            if path.is_file():
                shutil.copy2(path, out_dir / path.name)
