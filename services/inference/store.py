"""SQL store of deployments."""

from dataclasses import dataclass

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# A deployment in one of these states holds, or is about to hold, its model in memory.
ACTIVE = ("pending", "loading", "ready")


class Base(DeclarativeBase):
    pass


class DeploymentRow(Base):
    __tablename__ = "inference_deployments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(256), index=True)
    status: Mapped[str] = mapped_column(String(32))
    backend: Mapped[str] = mapped_column(String(32))
    artifact_prefix: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[int] = mapped_column(BigInteger)
    error: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    resolved_model: Mapped[str] = mapped_column(String(256), default="")
    base_model: Mapped[str] = mapped_column(String(256), default="")
    adapter: Mapped[bool] = mapped_column(Boolean, default=False)
    replicas: Mapped[int] = mapped_column(Integer, default=1)
    gpus_per_replica: Mapped[int] = mapped_column(Integer, default=0)
    max_context: Mapped[int] = mapped_column(Integer, default=0)
    max_concurrent_requests: Mapped[int] = mapped_column(Integer, default=0)


@dataclass
class DeploymentRecord:
    id: str
    model: str
    status: str
    backend: str
    artifact_prefix: str  # the served model's files (an adapter's own folder for an adapter)
    created_at: int
    error: dict | None = None  # {code, message, param} once failed
    resolved_model: str = ""  # the registered model `model` named at the last (re)load
    base_model: str = ""  # whose weights the engine holds: resolved_model or its parent
    adapter: bool = False  # a LoRA adapter applied on base_model's engine
    replicas: int = 1
    gpus_per_replica: int = 0
    max_context: int = 0  # 0: the model's
    max_concurrent_requests: int = 0  # 0: the service's default


def _record(row: DeploymentRow) -> DeploymentRecord:
    return DeploymentRecord(**{c: getattr(row, c) for c in DeploymentRecord.__dataclass_fields__})


class DeploymentStore:
    def __init__(self, sessions: async_sessionmaker):
        self.sessions = sessions

    async def get(self, deployment_id: str) -> DeploymentRecord | None:
        async with self.sessions() as s:
            row = await s.get(DeploymentRow, deployment_id)
            return _record(row) if row else None

    async def put(self, rec: DeploymentRecord) -> DeploymentRecord:
        async with self.sessions() as s, s.begin():
            await s.merge(DeploymentRow(**rec.__dict__))
        return rec

    async def active(self, model: str | None = None) -> list[DeploymentRecord]:
        """Deployments that are pending, loading or ready, of one model or of all, oldest first."""
        q = select(DeploymentRow).where(DeploymentRow.status.in_(ACTIVE))
        if model is not None:
            q = q.where(DeploymentRow.model == model)
        async with self.sessions() as s:
            rows = (await s.scalars(q.order_by(DeploymentRow.created_at, DeploymentRow.id))).all()
        return [_record(r) for r in rows]

    async def list(self, limit: int, after: str = "") -> tuple[list[DeploymentRecord], bool]:
        """Deployments ordered by creation (then id), `limit` after the deployment `after`."""
        async with self.sessions() as s:
            q = select(DeploymentRow).order_by(DeploymentRow.created_at, DeploymentRow.id)
            if after and (anchor := await s.get(DeploymentRow, after)):
                q = q.where(
                    (DeploymentRow.created_at > anchor.created_at)
                    | ((DeploymentRow.created_at == anchor.created_at)
                       & (DeploymentRow.id > anchor.id))
                )
            rows = (await s.scalars(q.limit(limit + 1))).all()
        return [_record(r) for r in rows[:limit]], len(rows) > limit
