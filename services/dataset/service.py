"""Dataset logic: spool and check uploads, store them content-addressed, serve them back."""

import asyncio
import hashlib
import logging
import tempfile
import time
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from services.common.artifacts import ArtifactNotFound, ArtifactStore
from services.common.errors import TuneForgeError, invalid, not_found
from services.common.events import DatasetDeleted, DatasetUploaded, EventBus
from services.common.ids import new_id
from services.dataset.settings import DatasetSettings
from services.dataset.store import FileRecord, FileStore
from services.dataset.validation import convert

log = logging.getLogger(__name__)

PURPOSES = ("fine-tune",)
MAX_FILENAME = 512


def raw_key(sha256: str) -> str:
    """Artifact key of the uploaded bytes."""
    return f"datasets/{sha256}/raw"


def canonical_key(sha256: str) -> str:
    """Artifact key of the canonical JSONL the training service reads."""
    return f"datasets/{sha256}/canonical.jsonl"


def describe_size(n: int) -> str:
    """'1 GiB (1073741824 bytes)' for round sizes, else 'n bytes'."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit} ({n} bytes)"
    return f"{n} bytes"


class DatasetService:
    def __init__(self, store: FileStore, artifacts: ArtifactStore, events: EventBus,
                 settings: DatasetSettings):
        self.store, self.artifacts, self.events = store, artifacts, events
        self.settings = settings
        # Serializes storing and deleting one content hash, so a delete that finds no other
        # file cannot remove content an upload of the same bytes is about to point at.
        # In-process only: running several replicas would need a database lock instead.
        self._content_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())

    async def upload(self, filename: str, purpose: str,
                     chunks: AsyncIterator[bytes]) -> FileRecord:
        """Spool, check and store an upload; an invalid file is refused and nothing is kept."""
        _check_header(filename, purpose)
        spool_root = self.settings.spool_root
        spool_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=spool_root, prefix="upload-") as tmp:
            raw, canonical = Path(tmp) / "raw", Path(tmp) / "canonical.jsonl"
            sha256, size = await self._spool(chunks, raw)
            summary = await asyncio.to_thread(convert, raw, canonical, self.settings.limits,
                                              self.settings.max_reported_errors)
            created_ns = time.time_ns()
            rec = FileRecord(
                id=new_id("file"), filename=filename, purpose=purpose, bytes=size,
                created_at=created_ns // 1_000_000_000, created_ns=created_ns, sha256=sha256,
                artifact_key=canonical_key(sha256), num_examples=summary.num_examples,
                format=summary.format)
            await self._keep(rec, raw, canonical)
        await self.events.publish(DatasetUploaded(
            file_id=rec.id, filename=rec.filename, sha256=sha256, num_examples=rec.num_examples))
        log.info("stored %s (%s, %d examples, %s)", rec.id, rec.format, rec.num_examples, sha256)
        return rec

    async def _spool(self, chunks: AsyncIterator[bytes], path: Path) -> tuple[str, int]:
        """Write the chunks to `path` while hashing them; returns (sha256, size)."""
        digest, size, limit = hashlib.sha256(), 0, self.settings.max_upload_bytes
        with open(path, "wb") as f:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TuneForgeError(
                        "payload_too_large",
                        f"The file is larger than the upload limit of {describe_size(limit)}.",
                        "file")
                await asyncio.to_thread(_append, f, digest, chunk)
        if size == 0:
            raise TuneForgeError("invalid_file", "The file is empty.", "file")
        return digest.hexdigest(), size

    async def _keep(self, rec: FileRecord, raw: Path, canonical: Path) -> None:
        """Store the content unless it is there already, then record the file pointing at it."""
        async with self._content_lock(rec.sha256):
            await asyncio.to_thread(self._store_content, rec.sha256, raw, canonical)
            try:
                await self.store.add(rec)
            except BaseException:
                # Content that no file points at would never be deleted.
                if await self.store.count_with_content(rec.sha256) == 0:
                    await asyncio.to_thread(self._delete_content, rec.sha256)
                raise

    def _store_content(self, sha256: str, raw: Path, canonical: Path) -> None:
        # The canonical file goes last, so its presence means both objects are complete.
        if self.artifacts.exists(canonical_key(sha256)):
            return
        self.artifacts.put_file(raw_key(sha256), raw)
        self.artifacts.put_file(canonical_key(sha256), canonical)

    def _content_lock(self, sha256: str) -> asyncio.Lock:
        return self._content_locks.setdefault(sha256, asyncio.Lock())

    async def get(self, file_id: str) -> FileRecord:
        """The file, or not_found."""
        rec = await self.store.get(file_id) if file_id else None
        if rec is None:
            raise not_found("file", file_id, "file_id")
        return rec

    async def list(self, limit: int, after: str = "",
                   purpose: str = "") -> tuple[list[FileRecord], bool]:
        """Files newest first; `after` must name an existing file."""
        if after and await self.store.get(after) is None:
            raise not_found("file", after, "after")
        return await self.store.list(limit, after, purpose)

    async def delete(self, file_id: str) -> None:
        """Forget a file; its content goes too when no other file points at it."""
        rec = await self.get(file_id)
        async with self._content_lock(rec.sha256):
            if not await self.store.delete(file_id):
                raise not_found("file", file_id, "file_id")  # deleted concurrently
            if await self.store.count_with_content(rec.sha256) == 0:
                await asyncio.to_thread(self._delete_content, rec.sha256)
        await self.events.publish(DatasetDeleted(file_id=file_id))
        log.info("deleted %s", file_id)

    def _delete_content(self, sha256: str) -> None:
        self.artifacts.delete(canonical_key(sha256))
        self.artifacts.delete(raw_key(sha256))

    async def download(self, file_id: str) -> AsyncIterator[bytes]:
        """The uploaded bytes, in chunks read from the artifact store."""
        rec = await self.get(file_id)
        try:
            chunks = await asyncio.to_thread(self.artifacts.iter_chunks, raw_key(rec.sha256))
        except ArtifactNotFound:
            raise TuneForgeError(
                "internal", f"The content of file '{file_id}' is missing from the artifact store."
            ) from None
        try:
            while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
                yield chunk
        finally:
            # A client that stops early must not leave the object's file or response open.
            if close := getattr(chunks, "close", None):
                close()


def _append(f: BinaryIO, digest, chunk: bytes) -> None:
    digest.update(chunk)
    f.write(chunk)


def _check_header(filename: str, purpose: str) -> None:
    if purpose not in PURPOSES:
        raise invalid(f"purpose must be one of {', '.join(PURPOSES)}, not '{purpose}'.",
                      "purpose")
    if not filename.strip():
        raise invalid("An upload needs a filename.", "filename")
    if len(filename) > MAX_FILENAME:
        raise invalid(f"filename is {len(filename)} characters; the most is {MAX_FILENAME}.",
                      "filename")
