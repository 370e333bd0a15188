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


def run_ranks(tmp_path: Path, model_dir: Path, hp: Hyperparameters, resume_tag: str | None = None,
              pause_file: Path | None = None, valid: list[dict] | None = None,
              ) -> tuple[int, list[dict]]:
    """Run the trainer like the service does; returns the exit code and rank 0's JSON lines."""
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS))
    valid_file = None
    if valid is not None:
        valid_file = tmp_path / "valid.jsonl"
        valid_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in valid))
    ds = tmp_path / "ds_config.json"
    ds.write_text(json.dumps(deepspeed_config(hp, bf16=False)))
    cfg = tmp_path / "run_config.json"
    cfg.write_text(RunConfig(job_id="ftjob-test", model_dir=model_dir, train_file=data,
                             output_dir=tmp_path / "output", deepspeed_config=ds,
                             hyperparameters=hp, seed=1, valid_file=valid_file,
                             resume_tag=resume_tag, control_file=pause_file).model_dump_json())
    env = {**os.environ, **detect().rank_env(hp.num_gpus)}
    proc = subprocess.run(launch_command(sys.executable, hp.num_gpus, cfg), env=env,
                          capture_output=True, text=True, timeout=300)
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    return proc.returncode, lines


def losses(lines: list[dict]) -> dict[int, float]:
    return {x["step"]: x["loss"] for x in lines if x["type"] == "metrics"}


@pytest.mark.parametrize("ranks, zero_stage", [(1, 0), (2, 3)])
def test_lora_run_saves_merged_full_weights_under_the_base_names(tmp_path, tiny_dir, ranks,
                                                                 zero_stage):
    hp = Hyperparameters(n_epochs=1, batch_size=2, learning_rate=1e-2, zero_stage=zero_stage,
                         lora_r=4, model_max_length=64, num_gpus=ranks)
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


def test_checkpoints_every_save_steps_with_valid_loss_and_deployable_weights(tmp_path, tiny_dir):
    hp = Hyperparameters(n_epochs=3, batch_size=2, learning_rate=1e-3, zero_stage=2,
                         model_max_length=64, save_strategy="steps", save_steps=2)
    code, lines = run_ranks(tmp_path, tiny_dir, hp, valid=RECORDS[:3])
    assert code == 0, lines
    checkpoints = [x for x in lines if x["type"] == "checkpoint"]
    # 6 steps in all; the last one is the final model, not a checkpoint.
    assert [c["step"] for c in checkpoints] == [2, 4]
    for c in checkpoints:
        assert set(c["metrics"]) == {"train_loss", "train_mean_token_accuracy", "valid_loss",
                                     "valid_mean_token_accuracy"}
        assert 0 <= c["metrics"]["valid_mean_token_accuracy"] <= 1
        weights = load_file(Path(c["model_dir"]) / "model.safetensors")
        assert sorted(weights) == sorted(load_file(tiny_dir / "model.safetensors"))
        assert (Path(c["model_dir"]) / "tokenizer.json").is_file()
    (result,) = [x for x in lines if x["type"] == "result"]
    # Trained on the same records it is validated on: the loss goes down.
    assert result["metrics"]["valid_loss"] < checkpoints[0]["metrics"]["valid_loss"]
    metrics = [x for x in lines if x["type"] == "metrics"]
    assert all(m["eta_s"] is not None and m["grad_norm"] is not None for m in metrics)


def test_pause_then_resume_continues_the_steps_and_the_losses_of_an_unbroken_run(tmp_path,
                                                                                  tiny_dir):
    hp = Hyperparameters(n_epochs=3, batch_size=2, learning_rate=1e-3, zero_stage=2,
                         model_max_length=64)
    (tmp_path / "a").mkdir()
    code, unbroken = run_ranks(tmp_path / "a", tiny_dir, hp)
    assert code == 0

    run = tmp_path / "b"
    run.mkdir()
    pause = run / "pause"
    pause.touch()  # asked before the run starts: it pauses after its first step
    code, first = run_ranks(run, tiny_dir, hp, pause_file=pause)
    assert code == 0, first
    (paused,) = [x for x in first if x["type"] == "paused"]
    assert paused["step"] == 1
    assert [x["type"] for x in first].count("checkpoint") == 1
    assert not (run / "output").exists()

    pause.unlink()
    code, second = run_ranks(run, tiny_dir, hp, resume_tag="step-1", pause_file=pause)
    assert code == 0, second
    assert any("Resumed from checkpoint step-1" in x.get("message", "") for x in second)
    assert min(losses(second)) == 2 and max(losses(second)) == 6
    expected = losses(unbroken)
    for step, loss in {**losses(first), **losses(second)}.items():
        assert abs(loss - expected[step]) < 1e-4, (step, loss, expected[step])
    assert (run / "output" / "model.safetensors").is_file()
