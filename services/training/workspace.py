"""A job's folder: base model and data downloaded, run config and DeepSpeed config written."""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from services.common.artifacts import ArtifactStore
from services.common.errors import TuneForgeError
from services.training.accelerator import Accelerator
from services.training.store import JobRecord
from services.training.trainer.config import Hyperparameters, RunConfig
from services.training.trainer.ds_config import deepspeed_config


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def base_dir(self) -> Path:
        return self.root / "base"

    @property
    def data_file(self) -> Path:
        return self.root / "data" / "train.jsonl"

    @property
    def valid_file(self) -> Path:
        return self.root / "data" / "valid.jsonl"

    @property
    def state_dir(self) -> Path:
        """DeepSpeed checkpoints (one folder per tag), to resume from."""
        return self.root / "state"

    @property
    def checkpoint_dir(self) -> Path:
        """Deployable model folder of each checkpoint."""
        return self.root / "checkpoints"

    @property
    def control_file(self) -> Path:
        """Created to ask the ranks to pause."""
        return self.root / "pause"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def run_config(self) -> Path:
        return self.root / "run.json"

    @property
    def ds_config(self) -> Path:
        return self.root / "ds_config.json"

    @property
    def launch_file(self) -> Path:
        return self.root / "launch.json"

    @property
    def log_file(self) -> Path:
        return self.root / "ranks.log"

    @property
    def pid_file(self) -> Path:
        """Process group of the ranks, to find them again after a restart."""
        return self.root / "ranks.pid"


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    deepspeed_config: dict


def launch_command(python: str, num_ranks: int, run_config: Path) -> list[str]:
    """torchrun (the deepspeed launcher hangs on CPU hosts) starting one trainer per rank."""
    return [python, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={num_ranks}",
            "-m", "services.training.trainer.run", "--config", str(run_config)]


def prepare(ws: Workspace, job: JobRecord, artifacts: ArtifactStore, accel: Accelerator,
            python: str) -> Launch:
    """Download the inputs (and the checkpoint to resume from) and write every config into the
    job's folder (blocking)."""
    for stale in (ws.base_dir, ws.output_dir, ws.state_dir, ws.checkpoint_dir):
        shutil.rmtree(stale, ignore_errors=True)  # left over by an earlier run of the job
    ws.control_file.unlink(missing_ok=True)
    ws.root.mkdir(parents=True, exist_ok=True)
    artifacts.get_dir(job.base_artifact_prefix, ws.base_dir)
    artifacts.get_file(job.training_file_key, ws.data_file)
    if job.validation_file_key:
        artifacts.get_file(job.validation_file_key, ws.valid_file)
    resume_tag = None
    if job.resume:
        resume_tag = job.resume["tag"]
        artifacts.get_dir(job.resume["prefix"], ws.state_dir / resume_tag)
    hp = Hyperparameters.model_validate(job.hyperparameters)
    if hp.bf16 and not accel.bf16:
        raise TuneForgeError("invalid_argument", "bf16 was requested but this host's "
                             "accelerator has no bfloat16 support; leave bf16 unset or false.",
                             "hyperparameters.bf16")
    ds = deepspeed_config(hp, bf16=accel.bf16)
    ws.ds_config.write_text(json.dumps(ds, indent=2) + "\n", encoding="utf-8")
    cfg = RunConfig(job_id=job.id, model_dir=ws.base_dir, train_file=ws.data_file,
                    output_dir=ws.output_dir, deepspeed_config=ws.ds_config,
                    hyperparameters=hp, seed=job.seed,
                    valid_file=ws.valid_file if job.validation_file_key else None,
                    state_dir=ws.state_dir, checkpoint_dir=ws.checkpoint_dir,
                    resume_tag=resume_tag, control_file=ws.control_file)
    ws.run_config.write_text(cfg.model_dump_json(indent=2) + "\n", encoding="utf-8")
    launch = Launch(launch_command(python, hp.num_gpus, ws.run_config),
                    accel.rank_env(hp.num_gpus), ds)
    ws.launch_file.write_text(json.dumps({"argv": launch.argv, "env": launch.env}, indent=2)
                              + "\n", encoding="utf-8")
    return launch


def remove_model_copies(ws: Workspace) -> None:
    """Free the disk a finished job's folder holds in model weights; configs and logs stay."""
    for path in (ws.base_dir, ws.output_dir, ws.state_dir, ws.checkpoint_dir):
        shutil.rmtree(path, ignore_errors=True)
