"""SQL store of registered models."""

from dataclasses import dataclass, field

from sqlalchemy import JSON, BigInteger, Integer, String, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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


def _record(row: ModelRow) -> ModelRecord:
    return ModelRecord(**{c: getattr(row, c) for c in ModelRecord.__dataclass_fields__})


class ModelStore:
    def __init__(self, sessions: async_sessionmaker):
        self.sessions = sessions

    async def get(self, model_id: str) -> ModelRecord | None:
        async with self.sessions() as s:
            row = await s.get(ModelRow, model_id)
            return _record(row) if row else None

    async def put(self, rec: ModelRecord) -> ModelRecord:
        async with self.sessions() as s, s.begin():
            await s.merge(ModelRow(**rec.__dict__))
        return rec

    async def list(self, limit: int, after: str = "") -> tuple[list[ModelRecord], bool]:
        """Models ordered by creation (then id), `limit` after the model `after`."""
        async with self.sessions() as s:
            q = select(ModelRow).order_by(ModelRow.created_at, ModelRow.id)
            if after and (anchor := await s.get(ModelRow, after)):
                q = q.where(
                    (ModelRow.created_at > anchor.created_at)
                    | ((ModelRow.created_at == anchor.created_at) & (ModelRow.id > anchor.id))
                )
            rows = (await s.scalars(q.limit(limit + 1))).all()
        return [_record(r) for r in rows[:limit]], len(rows) > limit
