"""Registry logic: registering models from the artifact store, inspecting their weights."""

import asyncio
import json
import logging
import struct
from pathlib import Path

from services.common.artifacts import ArtifactNotFound, ArtifactStore
from services.common.errors import TuneForgeError, invalid
from services.common.events import EventBus, ModelRegistered
from services.common.ids import now
from services.registry.store import ModelRecord, ModelStore

log = logging.getLogger(__name__)

MODEL_KINDS = ("base", "fine-tuned")


def _safetensors_parameters(header_bytes: bytes) -> int:
    """Count parameters from a safetensors header (8-byte length, then JSON) without loading it."""
    (n,) = struct.unpack("<Q", header_bytes[:8])
    header = json.loads(header_bytes[8:8 + n])
    total = 0
    for name, meta in header.items():
        if name != "__metadata__":
            count = 1
            for d in meta["shape"]:
                count *= d
            total += count
    return total


class RegistryService:
    def __init__(self, store: ModelStore, artifacts: ArtifactStore, events: EventBus):
        self.store, self.artifacts, self.events = store, artifacts, events

    async def register(self, rec: ModelRecord) -> ModelRecord:
        """Record a model whose files are already under `rec.artifact_prefix`."""
        if not rec.id:
            raise invalid("A model needs an id.", "id")
        if rec.kind not in MODEL_KINDS:
            raise invalid(f"kind must be one of {', '.join(MODEL_KINDS)}, not '{rec.kind}'.",
                          "kind")
        if rec.kind == "fine-tuned" and not await self.store.get(rec.parent):
            raise invalid(f"Parent model '{rec.parent}' is not registered.", "parent")
        await asyncio.to_thread(self._inspect, rec)
        rec.created_at = rec.created_at or now()
        await self.store.put(rec)
        await self.events.publish(ModelRegistered(model=rec.id, kind=rec.kind, parent=rec.parent))
        log.info("registered %s model %s (%d parameters)", rec.kind, rec.id, rec.num_parameters)
        return rec

    def _inspect(self, rec: ModelRecord) -> None:
        """Fill architecture, context length and parameter count from the stored files."""
        prefix = rec.artifact_prefix.rstrip("/")
        try:
            config = json.loads(self.artifacts.get_bytes(f"{prefix}/config.json"))
        except ArtifactNotFound:
            raise TuneForgeError(
                "invalid_argument", f"No config.json under artifact prefix '{prefix}'.",
                "artifact_prefix") from None
        rec.architecture = (config.get("architectures") or [config.get("model_type", "")])[0]
        rec.context_length = int(config.get("max_position_embeddings") or 0)
        weights = [o for o in self.artifacts.list(prefix + "/") if o.key.endswith(".safetensors")]
        total = 0
        for obj in weights:
            head = next(self.artifacts.iter_chunks(obj.key, chunk_size=8))
            (n,) = struct.unpack("<Q", head)
            raw = b""
            for chunk in self.artifacts.iter_chunks(obj.key, chunk_size=8 + n):
                raw = chunk
                break
            total += _safetensors_parameters(raw)
        rec.num_parameters = total

    async def bootstrap_base_models(self, base_dir: Path) -> list[str]:
        """Register every model folder under `base_dir` not yet registered (first start)."""
        added = []
        if not base_dir.is_dir():
            return added
        for model_dir in sorted(p for p in base_dir.iterdir() if (p / "config.json").exists()):
            name = model_dir.name
            if await self.store.get(name):
                continue
            prefix = f"models/{name}"
            await asyncio.to_thread(self.artifacts.put_dir, prefix, model_dir)
            await self.register(ModelRecord(id=name, created_at=0, owned_by="tuneforge",
                                            kind="base", artifact_prefix=prefix))
            added.append(name)
        return added
