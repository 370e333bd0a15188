"""The trainer ranks on their own, under torchrun with DeepSpeed on CPU: LoRA and divergence."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from services.registry.tiny_model import build_tiny_model
from services.training.accelerator import detect
from services.training.trainer.config import Hyperparameters, RunConfig
from services.training.trainer.ds_config import deepspeed_config
from services.training.workspace import launch_command

RECORDS = [{"id": str(i), "messages": [{"role": "user", "content": f"问题 {i}"},
                                       {"role": "assistant", "content": f"我是小智 {i}"}]}
           for i in range(4)]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("base") / "tiny-qwen2")


def run_ranks(tmp_path: Path, model_dir: Path, hp: Hyperparameters) -> tuple[int, list[dict]]:
    """Run the trainer like the service does; returns the exit code and rank 0's JSON lines."""
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS))
    ds = tmp_path / "ds_config.json"
    ds.write_text(json.dumps(deepspeed_config(hp, bf16=False)))
    cfg = tmp_path / "run_config.json"
    cfg.write_text(RunConfig(job_id="ftjob-test", model_dir=model_dir, train_file=data,
                             output_dir=tmp_path / "output", deepspeed_config=ds,
                             hyperparameters=hp, seed=1).model_dump_json())
    env = {**os.environ, **detect().rank_env(hp.num_gpus)}
    proc = subprocess.run(launch_command(sys.executable, hp.num_gpus, cfg), env=env,
                          capture_output=True, text=True, timeout=300)
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    return proc.returncode, lines


def test_lora_run_saves_merged_full_weights_under_the_base_names(tmp_path, tiny_dir):
    hp = Hyperparameters(n_epochs=1, batch_size=2, learning_rate=1e-2, zero_stage=0,
                         lora_r=4, model_max_length=64)
    code, lines = run_ranks(tmp_path, tiny_dir, hp)
    assert code == 0, lines
    assert any("trainable parameters" in x.get("message", "") for x in lines)
    base = load_file(tiny_dir / "model.safetensors")
    merged = load_file(tmp_path / "output" / "model.safetensors")
    assert sorted(merged) == sorted(base), "no LoRA adapter names left after merging"
    assert any((merged[k] - base[k]).abs().max() > 0 for k in base if "proj" in k)
    assert (merged["model.norm.weight"] == base["model.norm.weight"]).all(), "only LoRA trained"


def test_non_finite_loss_stops_training_at_once_with_a_clear_error(tmp_path, tiny_dir):
    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_dir, broken)
    weights = load_file(broken / "model.safetensors")
    weights["model.norm.weight"].fill_(float("nan"))
    save_file(weights, broken / "model.safetensors", metadata={"format": "pt"})
    hp = Hyperparameters(n_epochs=50, batch_size=2, learning_rate=1e-3, model_max_length=64)
    code, lines = run_ranks(tmp_path, broken, hp)
    assert code != 0
    assert not any(x["type"] == "metrics" for x in lines), "stopped at the first step"
    (error,) = [x for x in lines if x["type"] == "error"]
    assert error["param"] == "hyperparameters.learning_rate"
    assert "the training loss became nan at step 1" in error["message"]
    assert not (tmp_path / "output").exists()


def test_same_seed_gives_the_same_losses_and_accumulation_counts_optimizer_steps(tmp_path,
                                                                                 tiny_dir):
    hp = Hyperparameters(n_epochs=2, batch_size=2, gradient_accumulation_steps=2,
                         learning_rate=1e-3, zero_stage=2, model_max_length=64)
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        code, lines = run_ranks(tmp_path / name, tiny_dir, hp)
        assert code == 0, lines
        runs.append([(m["step"], m["loss"]) for m in lines if m["type"] == "metrics"])
    # 4 examples, one per micro batch, two micro batches per step: 2 steps an epoch.
    assert [step for step, _ in runs[0]] == [1, 2, 3, 4]
    assert runs[0] == runs[1]
