"""SQL store of fine-tuning jobs and their events."""

from dataclasses import asdict, dataclass, field

from sqlalchemy import JSON, BigInteger, Integer, String, Text, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.ids import new_id, now


class Base(DeclarativeBase):
    pass


class JobRow(Base):
    __tablename__ = "training_jobs"

    # An autoincrement key keeps creation order exact, for the queue and for pagination.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    finished_at: Mapped[int] = mapped_column(BigInteger, default=0)
    model: Mapped[str] = mapped_column(String(256))
    # The base at the root of the model's lineage: fine-tuned names start from it.
    model_root: Mapped[str] = mapped_column(String(256), default="")
    training_file: Mapped[str] = mapped_column(String(128))
    validation_file: Mapped[str] = mapped_column(String(128), default="")
    suffix: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), index=True)
    fine_tuned_model: Mapped[str] = mapped_column(String(256), default="")
    hyperparameters: Mapped[dict] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(BigInteger)
    trained_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    user_metadata: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    base_artifact_prefix: Mapped[str] = mapped_column(String(512))
    training_file_key: Mapped[str] = mapped_column(String(512))
    training_file_sha256: Mapped[str] = mapped_column(String(64), default="")


class JobEventRow(Base):
    __tablename__ = "training_job_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    job_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    level: Mapped[str] = mapped_column(String(8))
    type: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    data_json: Mapped[str] = mapped_column(Text, default="")


@dataclass
class JobRecord:
    id: str
    created_at: int
    model: str
    training_file: str
    status: str
    hyperparameters: dict
    seed: int
    base_artifact_prefix: str
    training_file_key: str
    training_file_sha256: str = ""
    model_root: str = ""
    validation_file: str = ""
    suffix: str = ""
    finished_at: int = 0
    fine_tuned_model: str = ""
    trained_tokens: int = 0
    user_metadata: dict = field(default_factory=dict)
    error: dict | None = None


@dataclass
class JobEventRecord:
    id: str
    job_id: str
    created_at: int
    level: str
    type: str
    message: str
    data_json: str = ""


def _job(row: JobRow) -> JobRecord:
    return JobRecord(**{c: getattr(row, c) for c in JobRecord.__dataclass_fields__})


def _event(row: JobEventRow) -> JobEventRecord:
    return JobEventRecord(**{c: getattr(row, c) for c in JobEventRecord.__dataclass_fields__})


class JobStore:
    def __init__(self, sessions: async_sessionmaker):
        self.sessions = sessions

    async def add(self, rec: JobRecord) -> JobRecord:
        async with self.sessions() as s, s.begin():
            s.add(JobRow(**asdict(rec)))
        return rec

    async def get(self, job_id: str) -> JobRecord | None:
        async with self.sessions() as s:
            row = await s.scalar(select(JobRow).where(JobRow.id == job_id))
            return _job(row) if row else None

    async def transition(self, job_id: str, from_status: tuple[str, ...], to_status: str,
                         **fields) -> JobRecord | None:
        """Set the status (and fields) only if the job is in one of `from_status`: a claim."""
        async with self.sessions() as s, s.begin():
            result = await s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status.in_(from_status))
                .values(status=to_status, **fields)
            )
        return await self.get(job_id) if result.rowcount == 1 else None

    async def update(self, job_id: str, **fields) -> None:
        async with self.sessions() as s, s.begin():
            await s.execute(update(JobRow).where(JobRow.id == job_id).values(**fields))

    async def oldest_queued(self) -> JobRecord | None:
        async with self.sessions() as s:
            row = await s.scalar(
                select(JobRow).where(JobRow.status == "queued").order_by(JobRow.seq).limit(1))
            return _job(row) if row else None

    async def ids_with_status(self, status: str) -> list[str]:
        async with self.sessions() as s:
            return list((await s.scalars(
                select(JobRow.id).where(JobRow.status == status).order_by(JobRow.seq))).all())

    async def add_event(self, job_id: str, message: str, level: str = "info",
                        type: str = "message", data_json: str = "") -> JobEventRecord:
        rec = JobEventRecord(new_id("ftevent"), job_id, now(), level, type, message, data_json)
        async with self.sessions() as s, s.begin():
            s.add(JobEventRow(**asdict(rec)))
        return rec

    async def list_events(self, job_id: str, limit: int,
                          after: str = "") -> tuple[list[JobEventRecord], bool]:
        """A job's events newest first, `limit` of them after the event `after`."""
        async with self.sessions() as s:
            q = select(JobEventRow).where(JobEventRow.job_id == job_id) \
                .order_by(JobEventRow.seq.desc())
            if after and (anchor := await s.scalar(
                    select(JobEventRow.seq).where(JobEventRow.id == after))):
                q = q.where(JobEventRow.seq < anchor)
            rows = (await s.scalars(q.limit(limit + 1))).all()
        return [_event(r) for r in rows[:limit]], len(rows) > limit

    # Last in the class: once defined, `list` shadows the builtin in annotations below it.
    async def list(self, limit: int, after: str = "") -> tuple[list[JobRecord], bool]:
        """Jobs newest first, `limit` of them after the job `after`."""
        async with self.sessions() as s:
            q = select(JobRow).order_by(JobRow.seq.desc())
            if after and (anchor := await s.scalar(select(JobRow.seq).where(JobRow.id == after))):
                q = q.where(JobRow.seq < anchor)
            rows = (await s.scalars(q.limit(limit + 1))).all()
        return [_job(r) for r in rows[:limit]], len(rows) > limit
