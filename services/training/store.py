"""SQL store of fine-tuning jobs and their events."""

from dataclasses import asdict, dataclass, field

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text, delete, func, \
    select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.ids import new_id, now
from services.training.accelerator import Accelerator


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
    validation_file_key: Mapped[str] = mapped_column(String(512), default="")
    eval_prompts: Mapped[list | None] = mapped_column(JSON, nullable=True)
    evaluation: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    auto_deploy: Mapped[bool] = mapped_column(Boolean, default=False)
    alias: Mapped[str] = mapped_column(String(64), default="")
    deployment: Mapped[str] = mapped_column(String(64), default="")
    # "pause" while a pause is asked of a running job; its agent acts on it.
    control: Mapped[str] = mapped_column(String(16), default="")
    # The checkpoint a run continues from: {"tag", "prefix" (artifact store), "step"}.
    resume: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    agent: Mapped[str] = mapped_column(String(128), default="")
    heartbeat_at: Mapped[int] = mapped_column(BigInteger, default=0)
    step: Mapped[int] = mapped_column(Integer, default=0)
    total_steps: Mapped[int] = mapped_column(Integer, default=0)
    estimated_finish: Mapped[int] = mapped_column(BigInteger, default=0)
    project: Mapped[str] = mapped_column(String(64), default="", index=True)


class CheckpointRow(Base):
    __tablename__ = "training_checkpoints"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    job_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    step: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(300))
    artifact_prefix: Mapped[str] = mapped_column(String(512))
    metrics: Mapped[dict] = mapped_column(JSON)


class AgentRow(Base):
    """A training agent and its hardware, refreshed while it lives."""

    __tablename__ = "training_agents"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    started_at: Mapped[int] = mapped_column(BigInteger)
    seen_at: Mapped[int] = mapped_column(BigInteger, index=True)
    cuda_devices: Mapped[int] = mapped_column(Integer)
    gpu_memory_bytes: Mapped[int] = mapped_column(BigInteger)
    host_memory_bytes: Mapped[int] = mapped_column(BigInteger)
    cpu_count: Mapped[int] = mapped_column(Integer)
    bf16: Mapped[bool] = mapped_column(Boolean)
    max_ranks: Mapped[int] = mapped_column(Integer)
    max_jobs: Mapped[int] = mapped_column(Integer)
    running: Mapped[list] = mapped_column(JSON)  # ids of the jobs it trains now


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
    validation_file_key: str = ""
    eval_prompts: list | None = None
    evaluation: dict | None = None
    auto_deploy: bool = False
    alias: str = ""
    deployment: str = ""
    control: str = ""
    resume: dict | None = None
    agent: str = ""
    heartbeat_at: int = 0
    step: int = 0
    total_steps: int = 0
    estimated_finish: int = 0
    project: str = ""


@dataclass
class CheckpointRecord:
    id: str
    job_id: str
    created_at: int
    step: int
    model: str
    artifact_prefix: str
    metrics: dict


@dataclass
class AgentRecord:
    id: str
    started_at: int
    seen_at: int
    cuda_devices: int
    gpu_memory_bytes: int
    host_memory_bytes: int
    cpu_count: int
    bf16: bool
    max_ranks: int
    max_jobs: int
    running: list = field(default_factory=list)

    @property
    def hardware(self) -> Accelerator:
        return Accelerator(self.cuda_devices, self.bf16, self.cpu_count, self.gpu_memory_bytes,
                           self.host_memory_bytes)


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


def _checkpoint(row: CheckpointRow) -> CheckpointRecord:
    return CheckpointRecord(**{c: getattr(row, c) for c in CheckpointRecord.__dataclass_fields__})


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
                         event: tuple[str, str] | None = None, **fields) -> JobRecord | None:
        """Set the status (and fields) only if the job is in one of `from_status`: a claim.

        `event` (message, level) is added to the job's events in the same transaction, so a
        reader never sees the new status without the event that tells of it.
        """
        async with self.sessions() as s, s.begin():
            result = await s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status.in_(from_status))
                .values(status=to_status, **fields)
            )
            if result.rowcount == 1 and event is not None:
                s.add(JobEventRow(**asdict(JobEventRecord(
                    new_id("ftevent"), job_id, now(), event[1], "message", event[0]))))
        return await self.get(job_id) if result.rowcount == 1 else None

    async def update(self, job_id: str, **fields) -> None:
        async with self.sessions() as s, s.begin():
            await s.execute(update(JobRow).where(JobRow.id == job_id).values(**fields))

    async def claimable(self, job_id: str, stale_before: int) -> JobRecord | None:
        """The job if an agent may take it: queued, or running with no heartbeat since
        `stale_before` (its agent died)."""
        job = await self.get(job_id)
        if job is None:
            return None
        if job.status == "queued" or (job.status == "running" and
                                      job.heartbeat_at < stale_before):
            return job
        return None

    async def claim(self, job: JobRecord, agent: str, heartbeat_at: int) -> JobRecord | None:
        """Take the job for `agent` if it is still as `job` saw it: one agent wins a race."""
        async with self.sessions() as s, s.begin():
            result = await s.execute(
                update(JobRow)
                .where(JobRow.id == job.id, JobRow.status == job.status,
                       JobRow.heartbeat_at == job.heartbeat_at, JobRow.agent == job.agent)
                .values(status="running", agent=agent, heartbeat_at=heartbeat_at, control=""))
        return await self.get(job.id) if result.rowcount == 1 else None

    async def heartbeat(self, job_id: str, agent: str, at: int) -> JobRecord | None:
        """Note that `agent` still runs the job; None once the job is no longer its own."""
        async with self.sessions() as s, s.begin():
            await s.execute(update(JobRow).where(JobRow.id == job_id, JobRow.agent == agent)
                            .values(heartbeat_at=at))
        job = await self.get(job_id)
        return job if job is not None and job.agent == agent else None

    async def advertise(self, agent: AgentRecord) -> None:
        """Insert or refresh an agent's row."""
        async with self.sessions() as s, s.begin():
            await s.merge(AgentRow(**asdict(agent)))

    async def agents(self, seen_since: int) -> list[AgentRecord]:
        """Agents heard from since `seen_since`, by id."""
        async with self.sessions() as s:
            rows = await s.scalars(select(AgentRow).where(AgentRow.seen_at >= seen_since)
                                   .order_by(AgentRow.id))
            return [AgentRecord(**{c: getattr(r, c) for c in AgentRecord.__dataclass_fields__})
                    for r in rows.all()]

    async def count_by_status(self) -> dict[str, int]:
        async with self.sessions() as s:
            rows = await s.execute(select(JobRow.status, func.count()).group_by(JobRow.status))
            return {status: n for status, n in rows.all()}

    async def add_checkpoint(self, rec: CheckpointRecord) -> CheckpointRecord:
        async with self.sessions() as s, s.begin():
            s.add(CheckpointRow(**asdict(rec)))
        return rec

    async def checkpoints(self, job_id: str) -> list[CheckpointRecord]:
        """A job's checkpoints, newest first."""
        async with self.sessions() as s:
            rows = await s.scalars(select(CheckpointRow).where(CheckpointRow.job_id == job_id)
                                   .order_by(CheckpointRow.seq.desc()))
            return [_checkpoint(r) for r in rows.all()]

    async def delete_checkpoint(self, checkpoint_id: str) -> None:
        async with self.sessions() as s, s.begin():
            await s.execute(delete(CheckpointRow).where(CheckpointRow.id == checkpoint_id))

    async def events_after(self, job_id: str, after: str, limit: int) -> list[JobEventRecord]:
        """A job's events oldest first, after the event `after` (from the first when empty)."""
        async with self.sessions() as s:
            q = select(JobEventRow).where(JobEventRow.job_id == job_id) \
                .order_by(JobEventRow.seq)
            if after and (anchor := await s.scalar(
                    select(JobEventRow.seq).where(JobEventRow.id == after))):
                q = q.where(JobEventRow.seq > anchor)
            return [_event(r) for r in (await s.scalars(q.limit(limit))).all()]

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
    async def list(self, limit: int, after: str = "", status: str = "",
                   metadata: dict[str, str] | None = None,
                   ) -> tuple[list[JobRecord], bool]:
        """Jobs newest first, `limit` of them after the job `after`, optionally filtered."""
        async with self.sessions() as s:
            q = select(JobRow).order_by(JobRow.seq.desc())
            if after and (anchor := await s.scalar(select(JobRow.seq).where(JobRow.id == after))):
                q = q.where(JobRow.seq < anchor)
            if status:
                q = q.where(JobRow.status == status)
            for key, value in (metadata or {}).items():
                q = q.where(JobRow.user_metadata[key].as_string() == value)
            rows = (await s.scalars(q.limit(limit + 1))).all()
        return [_job(r) for r in rows[:limit]], len(rows) > limit
