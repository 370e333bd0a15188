"""Registry logic: registering and checking models, looking them up, merging adapters."""

import asyncio
import logging
from pathlib import Path

from services.common.artifacts import ArtifactStore
from services.common.errors import TuneForgeError, invalid
from services.common.events import EventBus, ModelFailed, ModelRegistered
from services.common.ids import now
from services.registry import naming
from services.registry.facts import Facts, inspect
from services.registry.merge import merge_adapter
from services.registry.samples import pick_samples
from services.registry.settings import RegistrySettings
from services.registry.sources import copy_from_source
from services.registry.store import ModelRecord, ModelStore
from services.registry.verify import verify

log = logging.getLogger(__name__)

MODEL_KINDS = ("base", "fine-tuned")


def model_not_found(ref: str) -> TuneForgeError:
    return TuneForgeError("model_not_found", f"The model '{ref}' does not exist.", "model")


class RegistryService:
    def __init__(self, store: ModelStore, artifacts: ArtifactStore, events: EventBus,
                 settings: RegistrySettings):
        self.store, self.artifacts, self.events = store, artifacts, events
        self.settings = settings

    async def register(self, rec: ModelRecord, source: str = "",
                       samples: list[dict] | None = None) -> ModelRecord:
        """Copy the files from `source` if given, inspect and check them, record the model."""
        parent, old = await self._validate(rec, source)
        if source:
            await self._import(rec, source)
        facts = await asyncio.to_thread(inspect, self.artifacts, rec.artifact_prefix)
        if facts.format == "lora" and parent is None:
            raise invalid("A LoRA adapter needs the model it adapts as its parent, with kind "
                          "fine-tuned.", "parent")
        _describe(rec, facts, parent)
        await self._check(rec, parent, samples or [])
        if facts.problem:  # unservable weights outrank a template problem
            rec.error = {"code": "invalid_argument", "param": "artifact_prefix",
                         "message": f"The model cannot be served: {facts.problem}."}
        rec.status = "failed" if rec.error else "ready"
        rec.created_at = old.created_at if old else rec.created_at or now()
        await self.store.put(rec)
        # A re-registered model's old archive must not be served again.
        await asyncio.to_thread(self.artifacts.delete_prefix, export_prefix(rec.id))
        await self._publish_registered(rec)
        return rec

    async def _check(self, rec: ModelRecord, parent: ModelRecord | None,
                     samples: list[dict]) -> None:
        """Record the serving spec and the round-trip check's result (and failure) on `rec`."""
        source, examples = await asyncio.to_thread(
            pick_samples, self.artifacts, samples, rec.lineage, self.settings.round_trip_examples)
        checked = await asyncio.to_thread(
            verify, self.artifacts, rec.artifact_prefix, parent.artifact_prefix if parent else "",
            source, examples, self.settings.scratch_dir)
        rec.serving, rec.round_trip, rec.error = (checked.serving, checked.round_trip,
                                                  checked.error)

    async def _validate(self, rec: ModelRecord, source: str
                        ) -> tuple[ModelRecord | None, ModelRecord | None]:
        """(parent, the same id's earlier registration), once the request is known to be sane."""
        naming.check_id(rec.id)
        if not (source or rec.artifact_prefix):
            raise invalid("Give artifact_prefix (files already in the artifact store) or source "
                          "(where to copy them from).", "artifact_prefix")
        if rec.kind not in MODEL_KINDS:
            raise invalid(f"kind must be one of {', '.join(MODEL_KINDS)}, not '{rec.kind}'.",
                          "kind")
        if rec.name:
            naming.check_id(rec.name, "name")
        parent = await self.store.get(rec.parent) if rec.parent else None
        if rec.kind == "fine-tuned" and parent is None:
            raise invalid(f"Parent model '{rec.parent}' is not registered.", "parent")
        if rec.kind == "base" and rec.parent:
            raise invalid("A base model has no parent; register it with kind fine-tuned.",
                          "parent")
        old = await self.store.get(rec.id)
        prefix = rec.artifact_prefix or default_prefix(rec.id)
        if old is not None and old.artifact_prefix != prefix:
            raise TuneForgeError(
                "conflict", f"The model '{rec.id}' is already registered with its files at "
                f"'{old.artifact_prefix}'; delete it first or choose another id.", "id")
        return parent, old

    async def _import(self, rec: ModelRecord, source: str) -> None:
        rec.artifact_prefix = (rec.artifact_prefix or default_prefix(rec.id)).rstrip("/")
        if await asyncio.to_thread(self.artifacts.list, rec.artifact_prefix + "/"):
            raise TuneForgeError(
                "conflict", f"The artifact prefix '{rec.artifact_prefix}' already holds files; "
                "choose another id or artifact_prefix.", "artifact_prefix")
        count = await asyncio.to_thread(copy_from_source, source, self.artifacts,
                                        rec.artifact_prefix, self.settings)
        log.info("copied %d files of %s from %s", count, rec.id, source)

    async def _publish_registered(self, rec: ModelRecord) -> None:
        fields = dict(model=rec.id, kind=rec.kind, parent=rec.parent, name=rec.name,
                      version=rec.version)
        if rec.status == "failed":
            log.warning("registered %s as failed: %s", rec.id, rec.error["message"])
            await self.events.publish(ModelFailed(**fields, error=rec.error))
        else:
            log.info("registered %s model %s v%d (%d parameters)", rec.kind, rec.id,
                     rec.version, rec.num_parameters)
            await self.events.publish(ModelRegistered(**fields))

    async def resolve(self, ref: str) -> ModelRecord:
        """The model an id, '<name>@<alias>' or '<name>@<version>' names."""
        r = naming.parse_reference(ref or "")
        if r.alias:
            target = await self.store.alias_target(r.name, r.alias)
            rec = await self.store.get(target) if target else None
        elif r.version:
            rec = await self.store.get_version(r.name, r.version)
        else:
            rec = await self.store.get(r.model_id)
        if rec is None:
            raise model_not_found(ref)
        return rec

    async def with_aliases(self, recs: list[ModelRecord]) -> list[tuple[ModelRecord, list[str]]]:
        aliases = await self.store.aliases_of([r.id for r in recs])
        return [(r, aliases.get(r.id, [])) for r in recs]

    async def merge(self, ref: str, new_id: str = "", owned_by: str = "") -> ModelRecord:
        """Merge a LoRA adapter into its base: a new full-weight version of the adapter's name."""
        adapter = await self.resolve(ref)
        if adapter.format != "lora":
            raise invalid(f"The model '{adapter.id}' is not a LoRA adapter (format "
                          f"{adapter.format}); only an adapter can be merged.", "model")
        base = await self.resolve(adapter.parent)
        facts = await asyncio.to_thread(inspect, self.artifacts, base.artifact_prefix)
        if facts.quantization:
            raise invalid(f"The adapter '{adapter.id}' cannot be merged into its base "
                          f"'{base.id}': the base is {facts.quantization}, and a merge needs "
                          "full-precision weights. Deploy the adapter on its base instead.",
                          "model")
        new_id = new_id or f"{adapter.id}:merged"
        naming.check_id(new_id, "new_id")
        prefix = default_prefix(new_id)
        if await self.store.get(new_id) or await asyncio.to_thread(self.artifacts.list,
                                                                    prefix + "/"):
            raise TuneForgeError("conflict", f"The model '{new_id}' already exists; choose "
                                 "another new_id.", "new_id")
        try:
            await asyncio.to_thread(merge_adapter, self.artifacts, base.artifact_prefix,
                                    adapter.artifact_prefix, prefix, self.settings.scratch_dir)
        except Exception as e:
            await asyncio.to_thread(self.artifacts.delete_prefix, prefix + "/")
            raise TuneForgeError("internal", f"Merging '{adapter.id}' into '{base.id}' failed: "
                                 f"{type(e).__name__}: {e}", "model") from e
        owner = owned_by or adapter.owned_by
        return await self.register(ModelRecord(
            id=new_id, created_at=0, owned_by=owner, kind="fine-tuned", parent=adapter.parent,
            artifact_prefix=prefix, name=adapter.name,
            lineage={**adapter.lineage, "merged_from": adapter.id, "created_by": owner}))

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


def _describe(rec: ModelRecord, facts: Facts, parent: ModelRecord | None) -> None:
    """Fill what registration derives: facts of the files, name, version family, lineage."""
    rec.format, rec.dtype, rec.size_bytes = facts.format, facts.dtype, facts.size_bytes
    rec.num_parameters = facts.num_parameters
    # An adapter has no config.json of its own: it runs with its parent's architecture.
    rec.architecture = facts.architecture or (parent.architecture if parent else "")
    rec.context_length = facts.context_length or (parent.context_length if parent else 0)
    rec.root = (parent.root or parent.id) if parent else rec.id
    rec.name = rec.name or naming.default_name(rec.id)
    rec.checkpoint_step = naming.checkpoint_step(rec.id)
    given = {k: v for k, v in rec.lineage.items() if v not in ("", None)}
    rec.lineage = {"base_model": rec.parent, "created_by": rec.owned_by, **given}


def default_prefix(model_id: str) -> str:
    """Where a model's files go when the caller does not say."""
    return f"models/{model_id}"


def export_prefix(model_id: str) -> str:
    """Where the S3 backend keeps a model's download archive."""
    return f"exports/{model_id}/"

