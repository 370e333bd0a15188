"""SQL store of registered models, their versions and aliases."""

from dataclasses import dataclass, field

from sqlalchemy import JSON, BigInteger, Integer, String, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Two registrations of one name at once may pick the same next version; the unique index
# refuses the second, which then tries again.
_VERSION_RETRIES = 5


class Base(DeclarativeBase):
    pass


class ModelRow(Base):
    __tablename__ = "registry_models"

    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    owned_by: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    parent: Mapped[str] = mapped_column(String(256), default="")
    artifact_prefix: Mapped[str] = mapped_column(String(512))
    architecture: Mapped[str] = mapped_column(String(128), default="")
    num_parameters: Mapped[int] = mapped_column(BigInteger, default=0)
    context_length: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(32), default="ready")
    lineage: Mapped[dict] = mapped_column(JSON, default=dict)
    name: Mapped[str] = mapped_column(String(256), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    format: Mapped[str] = mapped_column(String(16), default="full")
    root: Mapped[str] = mapped_column(String(256), default="")
    dtype: Mapped[str] = mapped_column(String(32), default="")
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    checkpoint_step: Mapped[int] = mapped_column(Integer, default=0)
    serving: Mapped[dict] = mapped_column(JSON, default=dict)
    round_trip: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[dict] = mapped_column(JSON, default=dict)


class AliasRow(Base):
    __tablename__ = "registry_aliases"

    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(256))
    updated_at: Mapped[int] = mapped_column(BigInteger)


@dataclass
class ModelRecord:
    id: str
    created_at: int
    owned_by: str
    kind: str
    artifact_prefix: str
    parent: str = ""
    architecture: str = ""
    num_parameters: int = 0
    context_length: int = 0
    status: str = "ready"
    lineage: dict = field(default_factory=dict)
    name: str = ""
    version: int = 0
    format: str = "full"
    root: str = ""
    dtype: str = ""
    size_bytes: int = 0
    checkpoint_step: int = 0
    serving: dict = field(default_factory=dict)
    """chat_template, stop_token_ids, generation_config, tokenizer_sha256."""
    round_trip: dict = field(default_factory=dict)
    """passed, source, examples_checked, message."""
    error: dict = field(default_factory=dict)
    """code, message, param: why status is failed."""


def _record(row: ModelRow) -> ModelRecord:
    return ModelRecord(**{c: getattr(row, c) for c in ModelRecord.__dataclass_fields__})


class ModelStore:
    def __init__(self, sessions: async_sessionmaker):
        self.sessions = sessions

    async def get(self, model_id: str) -> ModelRecord | None:
        async with self.sessions() as s:
            row = await s.get(ModelRow, model_id)
            return _record(row) if row else None

    async def get_version(self, name: str, version: int) -> ModelRecord | None:
        async with self.sessions() as s:
            row = await s.scalar(select(ModelRow).where(ModelRow.name == name,
                                                        ModelRow.version == version))
            return _record(row) if row else None

    async def put(self, rec: ModelRecord) -> ModelRecord:
        """Insert or replace `rec`; a new model gets the next version of its name."""
        for attempt in range(_VERSION_RETRIES):
            try:
                async with self.sessions() as s, s.begin():
                    old = await s.get(ModelRow, rec.id)
                    if old is not None and old.name == rec.name:
                        rec.version = old.version
                    else:
                        top = await s.scalar(select(func.max(ModelRow.version))
                                             .where(ModelRow.name == rec.name))
                        rec.version = (top or 0) + 1
                    await s.merge(ModelRow(**rec.__dict__))
                return rec
            except IntegrityError:
                if attempt == _VERSION_RETRIES - 1:
                    raise
        return rec

    async def page(self, limit: int, after: str = "",
                   name: str = "") -> tuple[list[ModelRecord], bool]:
        """Models ordered by creation (then id), `limit` after the model `after`."""
        async with self.sessions() as s:
            q = select(ModelRow).order_by(ModelRow.created_at, ModelRow.id)
            if name:
                q = q.where(ModelRow.name == name)
            if after and (anchor := await s.get(ModelRow, after)):
                q = q.where(
                    (ModelRow.created_at > anchor.created_at)
                    | ((ModelRow.created_at == anchor.created_at) & (ModelRow.id > anchor.id))
                )
            rows = (await s.scalars(q.limit(limit + 1))).all()
        return [_record(r) for r in rows[:limit]], len(rows) > limit

    async def children(self, model_id: str, limit: int = 5) -> list[str]:
        """Ids of models whose parent is `model_id`."""
        async with self.sessions() as s:
            q = select(ModelRow.id).where(ModelRow.parent == model_id).order_by(ModelRow.id)
            return list((await s.scalars(q.limit(limit))).all())

    async def prefix_shared(self, prefix: str, except_id: str) -> bool:
        """Whether a model other than `except_id` keeps its files under `prefix`."""
        async with self.sessions() as s:
            q = select(ModelRow.id).where(ModelRow.artifact_prefix == prefix,
                                          ModelRow.id != except_id)
            return await s.scalar(q.limit(1)) is not None

    async def delete(self, model_id: str) -> None:
        async with self.sessions() as s, s.begin():
            await s.execute(delete(ModelRow).where(ModelRow.id == model_id))

    async def set_alias(self, name: str, alias: str, model_id: str, at: int) -> str:
        """Point the alias at `model_id`; returns the model it pointed at before ("" if new)."""
        async with self.sessions() as s, s.begin():
            row = await s.get(AliasRow, (name, alias))
            previous = row.model_id if row else ""
            await s.merge(AliasRow(name=name, alias=alias, model_id=model_id, updated_at=at))
        return previous

    async def delete_alias(self, name: str, alias: str) -> str | None:
        """Remove the alias; returns the model it pointed at, None if there was no alias."""
        async with self.sessions() as s, s.begin():
            row = await s.get(AliasRow, (name, alias))
            if row is None:
                return None
            await s.delete(row)
            return row.model_id

    async def alias_target(self, name: str, alias: str) -> str | None:
        async with self.sessions() as s:
            row = await s.get(AliasRow, (name, alias))
            return row.model_id if row else None

    async def aliases_of(self, model_ids: list[str]) -> dict[str, list[str]]:
        """Model id -> the aliases pointing at it, sorted."""
        if not model_ids:
            return {}
        async with self.sessions() as s:
            rows = (await s.scalars(select(AliasRow).where(AliasRow.model_id.in_(model_ids))
                                    .order_by(AliasRow.alias))).all()
        out: dict[str, list[str]] = {}
        for row in rows:
            out.setdefault(row.model_id, []).append(row.alias)
        return out
