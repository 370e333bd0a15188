"""Settings of the dataset service (env prefix TUNEFORGE_DATASET_)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings
from services.dataset.formats import Limits


class DatasetSettings(CommonSettings):
    model_config = SettingsConfigDict(
        env_prefix="TUNEFORGE_DATASET_", env_file=".env", extra="ignore", populate_by_name=True
    )

    listen_addr: str | None = Field(
        default=None, description="Address the gRPC server binds; defaults to dataset_addr."
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; defaults to SQLite <data_dir>/dataset.db."
    )
    max_upload_bytes: int = Field(
        default=1024**3, gt=0, description="Largest file an upload may carry (413 above it)."
    )
    spool_dir: Path | None = Field(
        default=None,
        description="Where uploads are spooled to disk while they are checked; "
        "defaults to <data_dir>/spool.",
    )
    max_line_bytes: int = Field(
        default=8 * 1024**2, gt=0, description="Longest JSONL line (one example) accepted."
    )
    max_array_bytes: int = Field(
        default=256 * 1024**2, gt=0,
        description="Largest JSON-array file accepted (an array is parsed whole in memory).",
    )
    max_reported_errors: int = Field(
        default=5, gt=0, description="Validation errors quoted in the message of a refused file."
    )

    @property
    def spool_root(self) -> Path:
        return self.spool_dir or self.data_dir / "spool"

    @property
    def limits(self) -> Limits:
        return Limits(max_line_bytes=self.max_line_bytes, max_array_bytes=self.max_array_bytes)
