"""Settings of the inference service (env prefix TUNEFORGE_INFERENCE_)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings, metrics_port_field


class InferenceSettings(CommonSettings):
    model_config = SettingsConfigDict(
        env_prefix="TUNEFORGE_INFERENCE_", env_file=".env", extra="ignore", populate_by_name=True
    )

    listen_addr: str | None = Field(
        default=None, description="Address the gRPC server binds; defaults to inference_addr."
    )
    metrics_port: int = metrics_port_field(9164)
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
    max_concurrent_requests: int = Field(
        default=32, ge=1, le=1024,
        description="Sequences one replica decodes in one batch unless a deployment says.",
    )
    torch_threads: int = Field(
        default=0, ge=0,
        description="CPU threads torch may use; 0 keeps torch's default (one per core). Fewer "
        "help on a host shared with other busy processes, where OpenMP waits for descheduled "
        "threads.",
    )
    max_loras: int = Field(
        default=8, ge=1, description="LoRA adapters one engine holds; the least recently used go.",
    )
    max_lora_rank: int = Field(
        default=16, ge=1,
        description="Least LoRA rank a vLLM engine is started for; the base's registered "
        "adapters raise it to their largest.",
    )
    advertise_addr: str | None = Field(
        default=None,
        description="host:port the gateway reaches this replica at; default listen_addr.",
    )
    replica_id: str | None = Field(
        default=None, description="This replica's name in heartbeats; default random.",
    )
    heartbeat_interval_s: float = Field(
        default=2.0, gt=0, description="Seconds between heartbeats on NATS.",
    )
    vllm_command: str | None = Field(
        default=None,
        description="Command that starts vLLM's OpenAI server, flags appended; default this "
        "interpreter's `-m vllm.entrypoints.openai.api_server`.",
    )

    @property
    def address(self) -> str:
        """Where other processes reach this replica."""
        return self.advertise_addr or self.listen_addr or self.inference_addr

    @property
    def model_cache_dir(self) -> Path:
        return self.cache_dir or self.data_dir / "inference" / "models"
