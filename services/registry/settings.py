"""Settings of the registry service (env prefix TUNEFORGE_REGISTRY_)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings


class RegistrySettings(CommonSettings):
    model_config = SettingsConfigDict(
        env_prefix="TUNEFORGE_REGISTRY_", env_file=".env", extra="ignore", populate_by_name=True
    )

    listen_addr: str | None = Field(
        default=None, description="Address the gRPC server binds; defaults to registry_addr."
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; defaults to SQLite <data_dir>/registry.db."
    )
    base_models_dir: Path = Field(
        default=Path("var/models"),
        description="Every model folder here is registered as a base model at start.",
    )
