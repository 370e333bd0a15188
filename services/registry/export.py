"""A model folder as a tar archive, streamed piece by piece, never whole in memory or on disk."""

import asyncio
import io
import re
import tarfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from services.common.artifacts import ArtifactStore, S3ArtifactStore
from services.common.errors import TuneForgeError
from services.common.ids import now
from services.registry.store import ModelRecord

_BLOCK = tarfile.BLOCKSIZE
_END = b"\0" * (2 * _BLOCK)  # two zero blocks close a tar archive


@dataclass(frozen=True)
class Member:
    key: str
    header: bytes
    size: int


@dataclass(frozen=True)
class Archive:
    filename: str
    members: list[Member]

    @property
    def size(self) -> int:
        return sum(len(m.header) + _padded(m.size) for m in self.members) + len(_END)


@dataclass(frozen=True)
class Export:
    filename: str
    size_bytes: int
    url: str = ""
    expires_at: int = 0
    chunks: AsyncIterator[bytes] | None = None
    """The archive's bytes, when there is no url to fetch it from."""


async def export_model(artifacts: ArtifactStore, rec: ModelRecord, expiry_s: int,
                       archive_key: str) -> Export:
    """A presigned URL of the archive (built once, at `archive_key`) where the store can
    presign; the archive streamed from the model's files otherwise."""
    archive = await asyncio.to_thread(plan, artifacts, rec.artifact_prefix, rec.id,
                                      rec.created_at)
    if not archive.members:
        raise TuneForgeError("not_found", f"The model '{rec.id}' has no files under "
                             f"'{rec.artifact_prefix}'.", "model")
    if not isinstance(artifacts, S3ArtifactStore):
        return Export(archive.filename, archive.size, chunks=_async(stream(artifacts, archive)))
    key = f"{archive_key}{archive.filename}"
    await asyncio.to_thread(_ensure_uploaded, artifacts, archive, key)
    url = await asyncio.to_thread(artifacts.presigned_get, key, expiry_s)
    return Export(archive.filename, archive.size, url=url, expires_at=now() + expiry_s)


def _ensure_uploaded(artifacts: S3ArtifactStore, archive: "Archive", key: str) -> None:
    if artifacts.exists(key) and artifacts.stat(key).size == archive.size:
        return
    reader = io.BufferedReader(IteratorReader(stream(artifacts, archive)), 1024 * 1024)
    artifacts.put_stream(key, reader, archive.size)


async def _async(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Reads the blocking store in a thread, one chunk at a time."""
    while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
        yield chunk


def archive_name(model_id: str) -> str:
    """A file-system-safe folder name for the model, e.g. 'ft-tiny-qwen2-x-abc'."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", model_id).strip("-.") or "model"


def plan(artifacts: ArtifactStore, prefix: str, model_id: str, mtime: int) -> Archive:
    """Headers and sizes of every file under `prefix`, inside one folder named for the model."""
    prefix = prefix.rstrip("/") + "/"
    folder = archive_name(model_id)
    members = []
    for obj in artifacts.list(prefix):
        info = tarfile.TarInfo(f"{folder}/{obj.key[len(prefix):]}")
        info.size, info.mtime, info.mode = obj.size, mtime, 0o644
        members.append(Member(obj.key, info.tobuf(tarfile.PAX_FORMAT), obj.size))
    return Archive(f"{folder}.tar", members)


def stream(artifacts: ArtifactStore, archive: Archive) -> Iterator[bytes]:
    """The archive's bytes, exactly `archive.size` of them."""
    for member in archive.members:
        yield member.header
        yield from artifacts.iter_chunks(member.key)
        if pad := _padded(member.size) - member.size:
            yield b"\0" * pad
    yield _END


class IteratorReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks, for APIs that upload from a file."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks, self._rest = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._rest:
            try:
                self._rest = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._rest))
        buffer[:n], self._rest = self._rest[:n], self._rest[n:]
        return n


def _padded(size: int) -> int:
    return -(-size // _BLOCK) * _BLOCK
