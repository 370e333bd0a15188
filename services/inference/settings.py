"""Settings of the inference service (env prefix TUNEFORGE_INFERENCE_)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings


class InferenceSettings(CommonSettings):
    model_config = SettingsConfigDict(
        env_prefix="TUNEFORGE_INFERENCE_", env_file=".env", extra="ignore", populate_by_name=True
    )

    listen_addr: str | None = Field(
        default=None, description="Address the gRPC server binds; defaults to inference_addr."
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; defaults to SQLite <data_dir>/inference.db."
    )
    cache_dir: Path | None = Field(
        default=None,
        description="Where deployed models are downloaded; default <data_dir>/inference/models.",
    )
    device: str = Field(
        default="auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$",
        description="Torch device of the engines: auto (CUDA when present), cpu or cuda:N.",
    )
    default_max_tokens: int = Field(
        default=512, ge=1,
        description="Tokens generated when a request sets no max_tokens (clipped to the context).",
    )
    max_n: int = Field(default=16, ge=1, description="Most choices one request may ask for.")

    @property
    def model_cache_dir(self) -> Path:
        return self.cache_dir or self.data_dir / "inference" / "models"
