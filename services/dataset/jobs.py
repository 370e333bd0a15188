"""Which fine-tuning jobs still need a file, asked of the training service."""

from typing import Protocol

import grpc

from services.common.errors import TuneForgeError
from tuneforge.v1 import training_pb2, training_pb2_grpc

ACTIVE = ("validating_files", "queued", "running")
_PAGE = 1000


class JobLookup(Protocol):
    async def active_jobs_using(self, file_id: str) -> list[tuple[str, str]]:
        """(job id, status) of every queued or running job that trains or validates on it."""


class TrainingJobLookup:
    """Pages through the training service's jobs (its ListJobs has no filter by file)."""

    def __init__(self, channel: grpc.aio.Channel, timeout_s: float = 10.0):
        self.stub = training_pb2_grpc.TrainingServiceStub(channel)
        self.timeout_s = timeout_s

    async def active_jobs_using(self, file_id: str) -> list[tuple[str, str]]:
        found, after = [], ""
        while True:
            request = training_pb2.ListJobsRequest(limit=_PAGE, after=after)
            try:
                page = await self.stub.ListJobs(request, timeout=self.timeout_s)
            except grpc.aio.AioRpcError as e:
                cause = TuneForgeError.from_rpc_error(e).message
                raise TuneForgeError("unavailable", (
                    f"Cannot tell whether a fine-tuning job uses file '{file_id}', so it is not "
                    f"deleted; try again later ({cause})."), "file_id") from None
            found += [(job.id, job.status) for job in page.data if job.status in ACTIVE
                      and file_id in (job.training_file, job.validation_file)]
            if not page.has_more or not page.data:
                return found
            after = page.data[-1].id
