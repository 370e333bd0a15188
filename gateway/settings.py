"""Settings of the gateway (env prefix TUNEFORGE_GATEWAY_)."""

import ipaddress

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings


class GatewaySettings(CommonSettings):
    model_config = SettingsConfigDict(
        env_prefix="TUNEFORGE_GATEWAY_", env_file=".env", extra="ignore", populate_by_name=True
    )

    host: str = Field(default="127.0.0.1", description="Bind address; loopback unless exposed.")
    port: int = Field(default=8000, description="HTTP port of the public API.")
    upload_chunk_bytes: int = Field(
        default=1024 * 1024, description="Size of the pieces an upload is streamed in."
    )
    rpc_timeout_s: float = Field(default=30.0, description="Deadline of unary calls to services.")
    admin_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TUNEFORGE_ADMIN_KEY"),
        description="Admin key (also a key of the default project). Without it the gateway "
                    "runs without authentication, which only a loopback host allows.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of keys, projects and ownership; defaults to "
                                  "SQLite <data_dir>/gateway.db.")
    rate_limit_per_minute: int = Field(
        default=600, ge=1, description="Requests one key may make per minute.")
    max_concurrent_generations: int = Field(
        default=8, ge=1, description="Chat and completion requests one key may run at once.")
    max_upload_bytes: int = Field(
        default=512 * 1024 * 1024, ge=1, description="Largest dataset a project may upload.")
    max_active_jobs: int = Field(
        default=4, ge=1, description="Fine-tuning jobs a project may have queued or running.")
    webhook_max_attempts: int = Field(
        default=8, ge=1, description="Attempts of one webhook delivery before it is failed.")
    webhook_retry_base_s: float = Field(
        default=2.0, gt=0, description="First retry delay; it doubles per attempt, to 1 hour.")
    webhook_poll_s: float = Field(
        default=1.0, gt=0, description="How often due webhook deliveries are looked for.")
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, description="Deadline of one webhook delivery attempt.")

    @property
    def auth_enabled(self) -> bool:
        return self.admin_key is not None

    @property
    def db_url(self) -> str:
        return self.database_url or self.sqlite_url("gateway")

    @model_validator(mode="after")
    def _keys_off_loopback(self) -> "GatewaySettings":
        # Without keys anyone who reaches the port could read and train on every dataset.
        if not self.auth_enabled and not _loopback(self.host):
            raise ValueError(f"host {self.host!r} is not loopback: set TUNEFORGE_ADMIN_KEY "
                             "before exposing the gateway")
        return self


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
