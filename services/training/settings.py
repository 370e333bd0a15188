"""Settings of the training service (env prefix TUNEFORGE_TRAINING_)."""

import sys
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings
from services.training.trainer.config import Hyperparameters


class TrainingSettings(CommonSettings):
    model_config = SettingsConfigDict(
        env_prefix="TUNEFORGE_TRAINING_", env_file=".env", extra="ignore", populate_by_name=True
    )

    listen_addr: str | None = Field(
        default=None, description="Address the gRPC server binds; defaults to training_addr."
    )
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
    keep_model_copies: bool = Field(
        default=False,
        description="Keep the base model and output copies in a job's folder after it ends.",
    )

    @property
    def work_root(self) -> Path:
        # Absolute: the ranks run inside the job's folder and read the paths in its config.
        return (self.work_dir or self.data_dir / "training").resolve()
