"""Settings of the dataset service (env prefix TUNEFORGE_DATASET_)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings, metrics_port_field
from services.dataset.formats import Limits


class DatasetSettings(CommonSettings):
    model_config = SettingsConfigDict(
        env_prefix="TUNEFORGE_DATASET_", env_file=".env", extra="ignore", populate_by_name=True
    )

    listen_addr: str | None = Field(
        default=None, description="Address the gRPC server binds; defaults to dataset_addr."
    )
    metrics_port: int = metrics_port_field(9161)
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
        default=8 * 1024**2, gt=0,
        description="Largest record accepted: one JSONL line or one item of a JSON array.",
    )
    max_reported_errors: int = Field(
        default=5, gt=0, description="Validation errors quoted in the message of a refused file."
    )
    max_report_problems: int = Field(
        default=100_000, gt=0,
        description="Problems kept in a file's report; the counts beyond it stay exact.",
    )
    tokenizer_cache_dir: Path | None = Field(
        default=None,
        description="Local copies of base models' tokenizer files; defaults to "
        "<data_dir>/tokenizers.",
    )
    tokenize_workers: int = Field(
        default=2, ge=1,
        description="Worker processes that tokenise (statistics, previews, the training cache), "
        "each a share of a file; they keep the tokenizer's memory out of the service process.",
    )

    @property
    def spool_root(self) -> Path:
        return self.spool_dir or self.data_dir / "spool"

    @property
    def tokenizer_root(self) -> Path:
        return self.tokenizer_cache_dir or self.data_dir / "tokenizers"

    @property
    def limits(self) -> Limits:
        return Limits(max_line_bytes=self.max_line_bytes)
