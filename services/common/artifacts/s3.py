"""Artifacts in S3 or MinIO through the `minio` SDK."""

from collections.abc import Iterator
from typing import BinaryIO

from minio import Minio
from minio.error import S3Error

from services.common.artifacts.base import CHUNK, ArtifactNotFound, ArtifactStore, ObjectInfo

# Parts of 16 MiB: large enough for few requests, small enough to bound memory per upload.
PART_SIZE = 16 * 1024 * 1024
_MISSING = {"NoSuchKey", "NoSuchObject", "ResourceNotFound"}


class S3ArtifactStore(ArtifactStore):
    def __init__(self, endpoint: str, bucket: str, access_key: str, secret_key: str,
                 secure: bool = False, region: str | None = None):
        self.bucket = bucket
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key,
                            secure=secure, region=region)
        if not self.client.bucket_exists(bucket):
            self.client.make_bucket(bucket)

    def put_stream(self, key: str, stream: BinaryIO, length: int = -1) -> None:
        # Unknown or large lengths go up as a multipart upload of PART_SIZE parts.
        self.client.put_object(self.bucket, key, stream, length, part_size=PART_SIZE)

    def iter_chunks(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        try:
            resp = self.client.get_object(self.bucket, key)
        except S3Error as e:
            if e.code in _MISSING:
                raise ArtifactNotFound(key) from e
            raise
        return self._read(resp, chunk_size)

    @staticmethod
    def _read(resp, chunk_size: int) -> Iterator[bytes]:
        try:
            yield from resp.stream(chunk_size)
        finally:
            resp.close()
            resp.release_conn()

    def stat(self, key: str) -> ObjectInfo:
        try:
            st = self.client.stat_object(self.bucket, key)
        except S3Error as e:
            if e.code in _MISSING:
                raise ArtifactNotFound(key) from e
            raise
        return ObjectInfo(key, st.size)

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        objs = self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
        return sorted((ObjectInfo(o.object_name, o.size) for o in objs), key=lambda o: o.key)

    def delete(self, key: str) -> None:
        self.client.remove_object(self.bucket, key)

    def presigned_get(self, key: str, expires_s: int = 3600) -> str:
        """A URL that downloads the object without credentials, valid for `expires_s`."""
        from datetime import timedelta

        return self.client.presigned_get_object(self.bucket, key, timedelta(seconds=expires_s))
