"""Settings of the registry service (env prefix TUNEFORGE_REGISTRY_)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings, metrics_port_field


class RegistrySettings(CommonSettings):
    model_config = SettingsConfigDict(
        env_prefix="TUNEFORGE_REGISTRY_", env_file=".env", extra="ignore", populate_by_name=True
    )

    listen_addr: str | None = Field(
        default=None, description="Address the gRPC server binds; defaults to registry_addr."
    )
    metrics_port: int = metrics_port_field(9163)
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; defaults to SQLite <data_dir>/registry.db."
    )
    base_models_dir: Path = Field(
        default=Path("var/models"),
        description="Every model folder here is registered as a base model at start.",
    )
    import_dirs: list[Path] = Field(
        default=[Path("var/models")],
        description="Local directories a model may be registered from (a JSON list); callers "
                    "of the public API must not read arbitrary server paths.",
    )
    work_dir: Path | None = Field(
        default=None,
        description="Scratch space for tokenizer checks, merges and imports; defaults to "
                    "<data_dir>/registry-work.",
    )
    round_trip_examples: int = Field(
        default=8, ge=1, le=1000,
        description="Training examples rendered by the round-trip check at registration.",
    )
    export_url_expiry_s: int = Field(
        default=3600, ge=60, le=7 * 24 * 3600,
        description="Lifetime of a presigned download URL (S3 backend).",
    )
    inference_timeout_s: float = Field(
        default=10.0, gt=0,
        description="Deadline of the call asking the inference service what is deployed.",
    )

    @property
    def scratch_dir(self) -> Path:
        return self.work_dir or self.data_dir / "registry-work"
