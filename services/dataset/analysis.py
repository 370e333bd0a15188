"""What a file becomes under a base model: the tokenized cache, its statistics, a preview.

The tokenizing runs in worker processes (`worker.py`); this class fetches the inputs from the
artifact store, runs the work once per cache key and stores the result.
"""

import asyncio
import json
import logging
import tempfile
from concurrent.futures import Executor
from pathlib import Path

import numpy as np

from services.common.artifacts import ArtifactNotFound, ArtifactStore
from services.common.errors import TuneForgeError, invalid
from services.dataset import stats, worker
from services.dataset.models import ModelTokenizer, TokenizerSource
from services.dataset.service import DatasetService
from services.dataset.store import FileRecord
from services.dataset.tokenized import SMALL_ARRAYS, cache_prefix

log = logging.getLogger(__name__)

MAX_LENGTH_LIMIT = 1 << 20
MAX_PREVIEW = 20


class Analysis:
    def __init__(self, files: DatasetService, tokenizers: TokenizerSource,
                 artifacts: ArtifactStore, pool: Executor, parts: int, spool_root: Path):
        self.files, self.tokenizers, self.artifacts = files, tokenizers, artifacts
        self.pool, self.parts, self.spool_root = pool, parts, spool_root
        self._locks: dict[str, asyncio.Lock] = {}

    async def tokenized(self, file_id: str, model: str,
                        max_length: int) -> tuple[dict, str, bool]:
        """(meta.json, artifact prefix, built now) of the file's tokenized cache."""
        rec = await self._trainable(file_id)
        tok = await self.tokenizers.get(model)
        length = _max_length(max_length, tok)
        prefix = cache_prefix(rec.sha256, tok.tokenizer_sha256, tok.template_sha256, length)
        async with self._locks.setdefault(prefix, asyncio.Lock()):
            try:
                meta = await asyncio.to_thread(self.artifacts.get_bytes, f"{prefix}/meta.json")
                return json.loads(meta), prefix, False
            except ArtifactNotFound:
                pass
            with self._workdir() as tmp:
                canonical, out = Path(tmp) / "canonical.jsonl", Path(tmp) / "out"
                await asyncio.to_thread(self.artifacts.get_file, rec.artifact_key, canonical)
                meta = await self._build(canonical, tok, length, _identity(rec, tok), out)
                await asyncio.to_thread(_upload, self.artifacts, out, prefix)
        log.info("tokenized %s for %s (%d tokens) into %s", file_id, model, meta["num_tokens"],
                 prefix)
        return meta, prefix, True

    async def _build(self, canonical: Path, tok: ModelTokenizer, length: int, identity: dict,
                     out: Path) -> dict:
        """Tokenize byte ranges of the file in parallel workers, then join them into `out`."""
        ranges = await asyncio.to_thread(worker.split_ranges, canonical, self.parts)
        folders = [out.with_name(f"part-{k}") for k in range(len(ranges))]
        for folder in folders:
            folder.mkdir()
        await asyncio.gather(*(
            self._run(worker.build_tokenized, str(canonical), str(tok.directory), length,
                      str(folder), identity, start, stop)
            for folder, (start, stop) in zip(folders, ranges)))
        if len(folders) == 1:
            folders[0].rename(out)
            return json.loads((out / "meta.json").read_text())
        out.mkdir()
        return await asyncio.to_thread(worker.merge_parts, [str(f) for f in folders], str(out))

    async def stats(self, file_id: str, model: str, max_length: int) -> dict:
        """Token statistics of the file under the model's tokenizer and template."""
        meta, prefix, _ = await self.tokenized(file_id, model, max_length)
        with self._workdir() as tmp:
            arrays = await asyncio.to_thread(_download_small, self.artifacts, prefix, Path(tmp))
        return stats.compute(meta, arrays["offsets"], arrays["full_lengths"],
                             arrays["trained_counts"])

    async def preview(self, file_id: str, model: str, n: int, max_length: int) -> tuple[int,
                                                                                     list[dict]]:
        """(max_length used, the first `n` examples with their trained segments)."""
        if not 1 <= n <= MAX_PREVIEW:
            raise invalid(f"n must be between 1 and {MAX_PREVIEW}, not {n}.", "n")
        rec = await self._trainable(file_id)
        tok = await self.tokenizers.get(model)
        length = _max_length(max_length, tok)
        with self._workdir() as tmp:
            head = Path(tmp) / "head.jsonl"
            await asyncio.to_thread(_head, self.artifacts, rec.artifact_key, n, head)
            examples = await self._run(worker.preview, str(head), str(tok.directory), length, n)
        return length, examples

    async def _trainable(self, file_id: str) -> FileRecord:
        rec = await self.files.get(file_id)
        if rec.status != "processed":
            raise TuneForgeError("invalid_file", (
                f"File '{file_id}' has status {rec.status} ({rec.num_errors} errors), so it "
                "cannot be tokenized; its report lists the problems."), "file_id")
        return rec

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    def _workdir(self) -> tempfile.TemporaryDirectory:
        self.spool_root.mkdir(parents=True, exist_ok=True)
        return tempfile.TemporaryDirectory(dir=self.spool_root, prefix="tokenize-")


def _max_length(requested: int, tok: ModelTokenizer) -> int:
    length = requested or tok.context_length
    if not 1 <= length <= MAX_LENGTH_LIMIT:
        param = "model_max_length" if requested else "model"
        raise invalid(f"model_max_length must be between 1 and {MAX_LENGTH_LIMIT}, not "
                      f"{length}.", param)
    return length


def _identity(rec: FileRecord, tok: ModelTokenizer) -> dict:
    return {"content_sha256": rec.sha256, "model": tok.model,
            "tokenizer_sha256": tok.tokenizer_sha256, "template_sha256": tok.template_sha256}


def _upload(artifacts: ArtifactStore, folder: Path, prefix: str) -> None:
    for path in sorted(folder.iterdir()):
        if path.name != "meta.json":
            artifacts.put_file(f"{prefix}/{path.name}", path)
    artifacts.put_file(f"{prefix}/meta.json", folder / "meta.json")  # last: marks it complete


def _download_small(artifacts: ArtifactStore, prefix: str, folder: Path) -> dict:
    out = {}
    for name in SMALL_ARRAYS:
        artifacts.get_file(f"{prefix}/{name}.npy", folder / f"{name}.npy")
        out[name] = np.load(folder / f"{name}.npy")
    return out


def _head(artifacts: ArtifactStore, key: str, n: int, path: Path) -> None:
    """The first `n` lines of an object, without reading the rest."""
    lines, pending = [], b""
    chunks = artifacts.iter_chunks(key, 64 * 1024)
    try:
        for chunk in chunks:
            pending += chunk
            *complete, pending = pending.split(b"\n")
            lines += complete
            if len(lines) >= n:
                break
        else:
            lines += [pending] if pending else []
    finally:
        if close := getattr(chunks, "close", None):
            close()
    path.write_bytes(b"".join(line + b"\n" for line in lines[:n]))
