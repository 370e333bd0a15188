"""Dataset files: spool and validate uploads, store them content-addressed, serve them back."""

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
from services.common.events import (
    DatasetDeleted,
    DatasetInvalid,
    DatasetUploaded,
    DatasetValidated,
    EventBus,
)
from services.common.ids import new_id
from services.dataset import report
from services.dataset.content import Contents, canonical_key, raw_key, report_key
from services.dataset.jobs import JobLookup
from services.dataset.settings import DatasetSettings
from services.dataset.store import FileRecord, FileStore
from services.dataset.validation import Summary

log = logging.getLogger(__name__)

PURPOSES = ("fine-tune",)
MAX_FILENAME = 512


def describe_size(n: int) -> str:
    """'1 GiB (1073741824 bytes)' for round sizes, else 'n bytes'."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit} ({n} bytes)"
    return f"{n} bytes"


class DatasetService:
    def __init__(self, store: FileStore, artifacts: ArtifactStore, events: EventBus,
                 settings: DatasetSettings, jobs: JobLookup):
        self.store, self.artifacts, self.events = store, artifacts, events
        self.settings, self.jobs = settings, jobs
        self.contents = Contents(artifacts, settings.limits, settings.max_report_problems)
        # Serializes storing and deleting one content hash, so a delete that finds no other
        # file cannot remove content an upload of the same bytes is about to point at.
        # In-process only: running several replicas would need a database lock instead.
        self._content_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())

    async def upload(self, filename: str, purpose: str,
                     chunks: AsyncIterator[bytes]) -> FileRecord:
        """Spool, validate and store an upload; an invalid one is kept with status error and
        the call fails with invalid_file naming it."""
        _check_header(filename, purpose)
        spool_root = self.settings.spool_root
        spool_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=spool_root, prefix="upload-") as tmp:
            raw = Path(tmp) / "raw"
            sha256, size = await self._spool(chunks, raw)
            async with self._content_lock(sha256):
                summary = await asyncio.to_thread(self.contents.store, sha256, raw, Path(tmp))
                rec = _record(filename, purpose, size, sha256, summary,
                              self.settings.max_reported_errors)
                await self._add(rec)
        await self._announce(rec)
        if summary.num_errors:
            raise TuneForgeError("invalid_file", (
                f"{rec.status_details} (kept as {rec.id} with status error; "
                "its report lists every problem)"), "file")
        return rec

    async def _add(self, rec: FileRecord) -> None:
        try:
            await self.store.add(rec)
        except BaseException:
            # Content that no file points at would never be deleted.
            if await self.store.count_with_content(rec.sha256) == 0:
                await asyncio.to_thread(self.contents.delete, rec.sha256)
            raise

    async def _announce(self, rec: FileRecord) -> None:
        common = dict(file_id=rec.id, filename=rec.filename, sha256=rec.sha256,
                      num_examples=rec.num_examples)
        await self.events.publish(DatasetUploaded(**common))
        if rec.status == "error":
            await self.events.publish(DatasetInvalid(
                **common, num_errors=rec.num_errors, num_warnings=rec.num_warnings,
                status_details=rec.status_details))
            log.info("kept invalid %s (%d errors, %s)", rec.id, rec.num_errors, rec.sha256)
        else:
            await self.events.publish(DatasetValidated(**common, num_warnings=rec.num_warnings))
            log.info("stored %s (%s, %d examples, %s)", rec.id, rec.format, rec.num_examples,
                     rec.sha256)

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
        """Forget a file unless an active job uses it; its content goes with its last file."""
        rec = await self.get(file_id)
        if users := await self.jobs.active_jobs_using(file_id):
            listed = ", ".join(f"{job} ({status})" for job, status in users)
            raise TuneForgeError("conflict", (
                f"File '{file_id}' is in use by fine-tuning job {listed}; cancel the job or wait "
                "for it to finish before deleting the file."), "file_id")
        async with self._content_lock(rec.sha256):
            if not await self.store.delete(file_id):
                raise not_found("file", file_id, "file_id")  # deleted concurrently
            if await self.store.count_with_content(rec.sha256) == 0:
                await asyncio.to_thread(self.contents.delete, rec.sha256)
        await self.events.publish(DatasetDeleted(file_id=file_id))
        log.info("deleted %s", file_id)

    async def report(self, file_id: str, after: int, limit: int) -> "tuple[list[dict], bool]":
        """Problems after number `after` of the file's report, and whether more follow."""
        if after < 0:
            raise invalid(f"after must be 0 or more, not {after}.", "after")
        rec = await self.get(file_id)
        return await asyncio.to_thread(self._report_page, rec, after, limit)

    def _report_page(self, rec: FileRecord, after: int, limit: int) -> "tuple[list[dict], bool]":
        try:
            chunks = self.artifacts.iter_chunks(report_key(rec.sha256))
        except ArtifactNotFound:
            raise _missing(rec.id) from None
        return report.page(chunks, after, limit)

    async def download(self, file_id: str) -> AsyncIterator[bytes]:
        """The uploaded bytes, in chunks read from the artifact store."""
        rec = await self.get(file_id)
        try:
            chunks = await asyncio.to_thread(self.artifacts.iter_chunks, raw_key(rec.sha256))
        except ArtifactNotFound:
            raise _missing(file_id) from None
        try:
            while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
                yield chunk
        finally:
            # A client that stops early must not leave the object's file or response open.
            if close := getattr(chunks, "close", None):
                close()


def _record(filename: str, purpose: str, size: int, sha256: str, summary: Summary,
            shown: int) -> FileRecord:
    created_ns = time.time_ns()
    return FileRecord(
        id=new_id("file"), filename=filename, purpose=purpose, bytes=size,
        created_at=created_ns // 1_000_000_000, created_ns=created_ns, sha256=sha256,
        artifact_key="" if summary.num_errors else canonical_key(sha256),
        num_examples=summary.num_examples, format=summary.format, status=summary.status,
        status_details=summary.details(shown), num_errors=summary.num_errors,
        num_warnings=summary.num_warnings)


def _missing(file_id: str) -> TuneForgeError:
    return TuneForgeError(
        "internal", f"The content of file '{file_id}' is missing from the artifact store.")


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
