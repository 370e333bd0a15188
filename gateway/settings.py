"""Settings of the gateway (env prefix TUNEFORGE_GATEWAY_)."""

from pydantic import Field
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
