"""SQL store of uploaded files."""

from dataclasses import dataclass

from sqlalchemy import BigInteger, Integer, String, Text, delete, func, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class FileRow(Base):
    __tablename__ = "dataset_files"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    filename: Mapped[str] = mapped_column(String(512))
    purpose: Mapped[str] = mapped_column(String(32))
    bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    # Nanoseconds orders files uploaded within the same second; created_at is for readers.
    created_ns: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(32))
    status_details: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    artifact_key: Mapped[str] = mapped_column(String(512))
    num_examples: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(64))
    num_errors: Mapped[int] = mapped_column(Integer, default=0)
    num_warnings: Mapped[int] = mapped_column(Integer, default=0)


@dataclass
class FileRecord:
    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int
    created_ns: int
    sha256: str
    artifact_key: str
    num_examples: int
    format: str
    status: str = "processed"
    status_details: str = ""
    num_errors: int = 0
    num_warnings: int = 0


def _record(row: FileRow) -> FileRecord:
    return FileRecord(**{c: getattr(row, c) for c in FileRecord.__dataclass_fields__})


class FileStore:
    def __init__(self, sessions: async_sessionmaker):
        self.sessions = sessions

    async def get(self, file_id: str) -> FileRecord | None:
        """The file, or None."""
        async with self.sessions() as s:
            row = await s.get(FileRow, file_id)
            return _record(row) if row else None

    async def add(self, rec: FileRecord) -> FileRecord:
        """Insert a new file."""
        async with self.sessions() as s, s.begin():
            s.add(FileRow(**rec.__dict__))
        return rec

    async def delete(self, file_id: str) -> bool:
        """Remove one file's row; False when it was not there."""
        async with self.sessions() as s, s.begin():
            result = await s.execute(delete(FileRow).where(FileRow.id == file_id))
        return result.rowcount > 0

    async def count_with_content(self, sha256: str) -> int:
        """How many files point at the content with this hash."""
        async with self.sessions() as s:
            return await s.scalar(select(func.count()).where(FileRow.sha256 == sha256))

    async def list(self, limit: int, after: str = "",
                   purpose: str = "") -> tuple[list[FileRecord], bool]:
        """Files newest first (then by id), `limit` of them after the file `after`."""
        async with self.sessions() as s:
            q = select(FileRow).order_by(FileRow.created_ns.desc(), FileRow.id.desc())
            if purpose:
                q = q.where(FileRow.purpose == purpose)
            if after and (anchor := await s.get(FileRow, after)):
                q = q.where(
                    (FileRow.created_ns < anchor.created_ns)
                    | ((FileRow.created_ns == anchor.created_ns) & (FileRow.id < anchor.id))
                )
            rows = (await s.scalars(q.limit(limit + 1))).all()
        return [_record(r) for r in rows[:limit]], len(rows) > limit
