"""Settings shared by every TuneForge process; each service extends `CommonSettings`."""

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _common(env: str, **kw):
    """A field read from the same TUNEFORGE_* variable by every process."""
    return Field(validation_alias=AliasChoices(env), **kw)


class CommonSettings(BaseSettings):
    """Settings every service reads; a service subclass adds its own under its own prefix."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    data_dir: Path = _common(
        "TUNEFORGE_DATA_DIR", default=Path("var"),
        description="Root for local state: SQLite files, the local artifact store, caches.",
    )
    nats_url: str = _common(
        "TUNEFORGE_NATS_URL", default="nats://127.0.0.1:4322",
        description="NATS server with JetStream, for lifecycle events.",
    )
    events_stream: str = _common(
        "TUNEFORGE_EVENTS_STREAM", default="TUNEFORGE",
        description="JetStream stream that captures every tuneforge.> subject.",
    )
    events_subject_prefix: str = _common(
        "TUNEFORGE_EVENTS_SUBJECT_PREFIX", default="tuneforge",
        description="First token of every event subject; tests isolate themselves with their own.",
    )
    artifact_backend: Literal["local", "s3"] = _common(
        "TUNEFORGE_ARTIFACT_BACKEND", default="local",
        description="Where datasets, checkpoints and models live: a local directory or S3/MinIO.",
    )
    artifact_dir: Path | None = _common(
        "TUNEFORGE_ARTIFACT_DIR", default=None,
        description="Root of the local artifact store; defaults to <data_dir>/artifacts.",
    )
    s3_endpoint: str = _common(
        "TUNEFORGE_S3_ENDPOINT", default="127.0.0.1:9000",
        description="host:port of the S3/MinIO endpoint.",
    )
    s3_bucket: str = _common("TUNEFORGE_S3_BUCKET", default="tuneforge", description="Bucket.")
    s3_access_key: str = _common(
        "TUNEFORGE_S3_ACCESS_KEY", default="minioadmin", description="S3 access key."
    )
    s3_secret_key: SecretStr = _common(
        "TUNEFORGE_S3_SECRET_KEY", default=SecretStr("minioadmin"),
        description="S3 secret key; the default only suits a local MinIO.",
    )
    s3_secure: bool = _common("TUNEFORGE_S3_SECURE", default=False, description="Use TLS.")
    s3_region: str | None = _common("TUNEFORGE_S3_REGION", default=None, description="Region.")
    log_level: str = _common("TUNEFORGE_LOG_LEVEL", default="INFO", description="Log level.")
    log_format: Literal["json", "text"] = _common(
        "TUNEFORGE_LOG_FORMAT", default="json",
        description="Log lines on stderr: json (one object per line with time, level, service, "
        "logger, message, request_id, project, exc_info) for log collectors, or text to read "
        "by eye.",
    )
    dataset_addr: str = _common(
        "TUNEFORGE_DATASET_ADDR", default="127.0.0.1:50061", description="Dataset service gRPC."
    )
    training_addr: str = _common(
        "TUNEFORGE_TRAINING_ADDR", default="127.0.0.1:50062", description="Training service gRPC."
    )
    registry_addr: str = _common(
        "TUNEFORGE_REGISTRY_ADDR", default="127.0.0.1:50063", description="Registry service gRPC."
    )
    inference_addr: str = _common(
        "TUNEFORGE_INFERENCE_ADDR", default="127.0.0.1:50064",
        description="Inference service gRPC.",
    )

    @property
    def artifact_root(self) -> Path:
        return self.artifact_dir or self.data_dir / "artifacts"

    def sqlite_url(self, name: str) -> str:
        """Default database URL of a service: a SQLite file under data_dir."""
        return f"sqlite:///{(self.data_dir / f'{name}.db').resolve()}"


def metrics_port_field(default: int):
    """A service's `metrics_port` setting (each service has its own default port)."""
    return Field(default=default, ge=0, le=65535,
                 description="HTTP port that serves Prometheus metrics at /metrics, on the "
                 "listen address's host; 0 turns it off.")
