"""Settings of the training service (env prefix TUNEFORGE_TRAINING_)."""

import socket
import sys
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings, metrics_port_field
from services.training.multinode.settings import ClusterSettings
from services.training.trainer.config import Hyperparameters


class TrainingSettings(CommonSettings):
    model_config = SettingsConfigDict(
        env_prefix="TUNEFORGE_TRAINING_", env_file=".env", extra="ignore", populate_by_name=True,
        env_nested_delimiter="__",
    )

    listen_addr: str | None = Field(
        default=None, description="Address the gRPC server binds; defaults to training_addr."
    )
    metrics_port: int = metrics_port_field(9162)
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; defaults to SQLite <data_dir>/training.db."
    )
    work_dir: Path | None = Field(
        default=None,
        description="Per-job folders (configs, rank logs, model copies); "
        "defaults to <data_dir>/training.",
    )
    max_concurrent_jobs: int = Field(
        default=1, ge=1, description="Jobs run at the same time; the rest wait in the queue."
    )
    max_ranks: int | None = Field(
        default=None, ge=1,
        description="Most ranks (num_gpus) one job may ask for; "
        "defaults to the GPUs present, else the CPU cores.",
    )
    default_hyperparameters: Hyperparameters = Field(
        default_factory=Hyperparameters,
        description="Values for hyperparameters a job leaves unset (JSON in the environment).",
    )
    python: str = Field(
        default=sys.executable, description="Interpreter that runs torchrun and the ranks."
    )
    cancel_grace_s: float = Field(
        default=5.0, gt=0, description="Seconds ranks get to exit on SIGTERM before SIGKILL."
    )
    metrics_publish_interval_s: float = Field(
        default=1.0, ge=0, description="Least seconds between JobMetrics events of one job."
    )
    cluster: ClusterSettings = Field(
        default_factory=ClusterSettings,
        description="Where jobs with num_nodes > 1 run (TUNEFORGE_TRAINING_CLUSTER__BACKEND, "
        "...); see docs/multinode.md.",
    )
    run_agent: bool = Field(
        default=True,
        description="Train jobs in this process too (an embedded agent); false: only serve the "
        "API and leave training to agents (python -m services.training.agent).",
    )
    agent_id: str = Field(
        default_factory=socket.gethostname,
        description="Name of this host's agent; stable across restarts, unique per host.",
    )
    work_ack_wait_s: float = Field(
        default=30.0, gt=0,
        description="Seconds an agent may stay silent before its job goes to another agent.",
    )
    control_poll_s: float = Field(
        default=1.0, gt=0, description="Seconds between an agent's checks for cancel and pause.",
    )
    eval_max_prompts: int = Field(
        default=3, ge=0, le=100,
        description="Prompts taken from the validation (else training) file for the "
        "before/after comparison when a job gives no eval_prompts; 0 turns it off.",
    )
    eval_max_new_tokens: int = Field(
        default=64, ge=1, le=4096, description="Most tokens of each before/after answer.",
    )
    device_memory_gib: float | None = Field(
        default=None, gt=0,
        description="Memory of one training device for the fit check; defaults to the GPUs' "
        "own, else this host's RAM shared by its cores.",
    )
    keep_model_copies: bool = Field(
        default=False,
        description="Keep the base model and output copies in a job's folder after it ends.",
    )

    @property
    def work_root(self) -> Path:
        # Absolute: the ranks run inside the job's folder and read the paths in its config.
        return (self.work_dir or self.data_dir / "training").resolve()
