"""Artifacts in a local directory: the embedded default for one machine."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from services.common.artifacts.base import CHUNK, ArtifactNotFound, ArtifactStore, ObjectInfo


class LocalArtifactStore(ArtifactStore):
    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not key or not path.is_relative_to(self.root):
            raise ValueError(f"artifact key {key!r} leaves the store")
        return path

    def put_stream(self, key: str, stream: BinaryIO, length: int = -1) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename, so readers never see half an object.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".put-")
        try:
            with os.fdopen(fd, "wb") as f:
                shutil.copyfileobj(stream, f, CHUNK)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def iter_chunks(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        path = self._path(key)
        if not path.is_file():
            raise ArtifactNotFound(key)
        return self._read(path, chunk_size)

    @staticmethod
    def _read(path: Path, chunk_size: int) -> Iterator[bytes]:
        with open(path, "rb") as f:
            while chunk := f.read(chunk_size):
                yield chunk

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        if not path.is_file():
            raise ArtifactNotFound(key)
        return ObjectInfo(key, path.stat().st_size)

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        out = []
        for p in self.root.rglob("*"):
            key = p.relative_to(self.root).as_posix()
            if p.is_file() and key.startswith(prefix) and not p.name.startswith(".put-"):
                out.append(ObjectInfo(key, p.stat().st_size))
        return sorted(out, key=lambda o: o.key)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
