"""The `ArtifactStore` interface. Keys are '/'-separated paths, e.g. 'models/ft-x/config.json'."""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


class ArtifactNotFound(KeyError):
    """No object under that key."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


class ArtifactStore(ABC):
    """Blocking API (call it from a thread in async code); streams, never whole files in memory."""

    @abstractmethod
    def put_stream(self, key: str, stream: BinaryIO, length: int = -1) -> None:
        """Store the bytes read from `stream` under `key`, replacing any object there."""

    @abstractmethod
    def iter_chunks(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """Yield the object's bytes in chunks; raises ArtifactNotFound."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """Size of the object; raises ArtifactNotFound."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object whose key starts with `prefix`, sorted by key."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove one object; a missing key is not an error."""

    # Derived operations, the same for every backend.

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ArtifactNotFound:
            return False
        return True

    def put_file(self, key: str, path: Path) -> None:
        with open(path, "rb") as f:
            self.put_stream(key, f, Path(path).stat().st_size)

    def put_bytes(self, key: str, data: bytes) -> None:
        import io

        self.put_stream(key, io.BytesIO(data), len(data))

    def get_bytes(self, key: str) -> bytes:
        return b"".join(self.iter_chunks(key))

    def get_file(self, key: str, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "wb") as f:
            for chunk in self.iter_chunks(key):
                f.write(chunk)
        tmp.replace(path)

    def put_dir(self, prefix: str, directory: Path) -> int:
        """Upload every file under `directory` to `prefix/<relative path>`; returns the count."""
        files = sorted(p for p in Path(directory).rglob("*") if p.is_file())
        for p in files:
            self.put_file(f"{prefix.rstrip('/')}/{p.relative_to(directory).as_posix()}", p)
        return len(files)

    def get_dir(self, prefix: str, directory: Path) -> int:
        """Download every object under `prefix/` into `directory`; returns the count."""
        prefix = prefix.rstrip("/") + "/"
        objects = self.list(prefix)
        if not objects:
            raise ArtifactNotFound(prefix)
        for obj in objects:
            self.get_file(obj.key, Path(directory) / obj.key[len(prefix):])
        return len(objects)

    def delete_prefix(self, prefix: str) -> int:
        objects = self.list(prefix)
        for obj in objects:
            self.delete(obj.key)
        return len(objects)
