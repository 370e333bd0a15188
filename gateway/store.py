"""SQL store of the gateway: projects, their API keys (hashed) and which project owns what."""

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import BigInteger, String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common import db
from services.common.errors import TuneForgeError, not_found

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"
VERSION_TABLE = "alembic_version_gateway"
DEFAULT_PROJECT = "default"


class Base(DeclarativeBase):
    pass


class ProjectRow(Base):
    __tablename__ = "gateway_projects"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[int] = mapped_column(BigInteger)


class KeyRow(Base):
    __tablename__ = "gateway_api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(256), default="")
    prefix: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class OwnerRow(Base):
    __tablename__ = "gateway_ownership"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    created_at: int


@dataclass(frozen=True)
class ApiKey:
    id: str
    project_id: str
    name: str
    prefix: str
    sha256: str
    created_at: int
    revoked_at: int | None


def _key(row: KeyRow) -> ApiKey:
    return ApiKey(row.id, row.project_id, row.name, row.prefix, row.sha256, row.created_at,
                  row.revoked_at)


class GatewayStore:
    def __init__(self, sessions: async_sessionmaker):
        self.sessions = sessions

    @classmethod
    async def open(cls, url: str, stack) -> "GatewayStore":
        """Migrate the database at `url` and open it for the life of `stack`."""
        await asyncio.to_thread(db.migrate, url, MIGRATIONS, VERSION_TABLE)
        engine = db.create_engine(url)
        stack.push_async_callback(engine.dispose)
        store = cls(db.sessionmaker(engine))
        await store.ensure_project(DEFAULT_PROJECT, "Default project")
        return store

    async def ensure_project(self, project_id: str, name: str) -> Project:
        async with self.sessions() as s, s.begin():
            row = await s.get(ProjectRow, project_id)
            if row is None:
                row = ProjectRow(id=project_id, name=name, created_at=int(time.time()))
                s.add(row)
            return Project(row.id, row.name, row.created_at)

    async def create_project(self, project_id: str, name: str) -> Project:
        try:
            async with self.sessions() as s, s.begin():
                s.add(ProjectRow(id=project_id, name=name, created_at=int(time.time())))
        except IntegrityError:
            raise TuneForgeError("conflict", f"Project '{project_id}' already exists.",
                                 "id") from None
        return Project(project_id, name, int(time.time()))

    async def get_project(self, project_id: str) -> Project:
        async with self.sessions() as s:
            row = await s.get(ProjectRow, project_id)
        if row is None:
            raise not_found("project", project_id, "project")
        return Project(row.id, row.name, row.created_at)

    async def list_projects(self) -> list[Project]:
        async with self.sessions() as s:
            rows = (await s.scalars(select(ProjectRow).order_by(ProjectRow.created_at,
                                                                ProjectRow.id))).all()
        return [Project(r.id, r.name, r.created_at) for r in rows]

    async def add_key(self, key: ApiKey) -> ApiKey:
        await self.get_project(key.project_id)
        async with self.sessions() as s, s.begin():
            s.add(KeyRow(**key.__dict__))
        return key

    async def key_by_hash(self, sha256: str) -> ApiKey | None:
        async with self.sessions() as s:
            row = await s.scalar(select(KeyRow).where(KeyRow.sha256 == sha256))
        return _key(row) if row else None

    async def list_keys(self, project_id: str | None = None) -> list[ApiKey]:
        async with self.sessions() as s:
            q = select(KeyRow).order_by(KeyRow.created_at, KeyRow.id)
            if project_id:
                q = q.where(KeyRow.project_id == project_id)
            return [_key(r) for r in (await s.scalars(q)).all()]

    async def revoke_key(self, key_id: str) -> ApiKey:
        async with self.sessions() as s, s.begin():
            row = await s.get(KeyRow, key_id)
            if row is None:
                raise not_found("API key", key_id, "key_id")
            row.revoked_at = row.revoked_at or int(time.time())
            return _key(row)

    async def set_owner(self, kind: str, object_id: str, project_id: str) -> None:
        """Record that `project_id` created `object_id`; the first record wins."""
        try:
            async with self.sessions() as s, s.begin():
                if await s.get(OwnerRow, (kind, object_id)) is None:
                    s.add(OwnerRow(kind=kind, object_id=object_id, project_id=project_id,
                                   created_at=int(time.time())))
        except IntegrityError:
            pass  # a concurrent request recorded it first

    async def owners(self, kind: str, object_ids: list[str]) -> dict[str, str]:
        """Owner project of each of `object_ids` that has one."""
        if not object_ids:
            return {}
        async with self.sessions() as s:
            rows = (await s.scalars(select(OwnerRow).where(
                OwnerRow.kind == kind, OwnerRow.object_id.in_(object_ids)))).all()
        return {r.object_id: r.project_id for r in rows}

    async def count_owned(self, kind: str, project_id: str, object_ids: list[str]) -> int:
        async with self.sessions() as s:
            return await s.scalar(select(func.count()).select_from(OwnerRow).where(
                OwnerRow.kind == kind, OwnerRow.project_id == project_id,
                OwnerRow.object_id.in_(object_ids))) or 0
