"""Artifacts (datasets, checkpoints, models) behind one interface: S3/MinIO or a local folder."""

from services.common.artifacts.base import ArtifactNotFound, ArtifactStore, ObjectInfo
from services.common.artifacts.local import LocalArtifactStore
from services.common.artifacts.s3 import S3ArtifactStore
from services.common.settings import CommonSettings


def open_store(settings: CommonSettings) -> ArtifactStore:
    """The store the settings name."""
    if settings.artifact_backend == "s3":
        return S3ArtifactStore(
            endpoint=settings.s3_endpoint,
            bucket=settings.s3_bucket,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key.get_secret_value(),
            secure=settings.s3_secure,
            region=settings.s3_region,
        )
    return LocalArtifactStore(settings.artifact_root)


__all__ = [
    "ArtifactNotFound", "ArtifactStore", "LocalArtifactStore", "ObjectInfo", "S3ArtifactStore",
    "open_store",
]
