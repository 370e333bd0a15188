"""/v1/fine_tuning/jobs: create, follow and cancel fine-tuning jobs."""

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.api.common import ERRORS, ListResponse
from gateway.api.fine_tuning.protocol import CreateFineTuningJob, FineTuningJob, JobEvent
from gateway.clients import ClientsDep
from tuneforge.v1 import training_pb2 as pb

router = APIRouter(prefix="/v1/fine_tuning/jobs", tags=["fine-tuning"], responses=ERRORS)

Limit = Annotated[int, Query(ge=1, le=1000, description="Objects per page.")]
After = Annotated[str | None, Query(description="Id of the last object of the previous page.")]


@router.post("", response_model=FineTuningJob, summary="Create a fine-tuning job")
async def create_job(body: CreateFineTuningJob, clients: ClientsDep) -> FineTuningJob:
    chosen = body.chosen_hyperparameters()
    hp = chosen.to_pb() if chosen else pb.Hyperparameters()
    req = pb.CreateJobRequest(
        model=body.model, training_file=body.training_file,
        validation_file=body.validation_file or "", suffix=body.suffix or "",
        hyperparameters=hp, metadata=body.metadata or {},
    )
    if body.seed is not None:
        req.seed = body.seed
    return FineTuningJob.from_pb(await clients.training.CreateJob(req, timeout=clients.timeout))


@router.get("", response_model=ListResponse[FineTuningJob], summary="List fine-tuning jobs")
async def list_jobs(clients: ClientsDep, after: After = None,
                    limit: Limit = 20) -> ListResponse[FineTuningJob]:
    r = await clients.training.ListJobs(pb.ListJobsRequest(limit=limit, after=after or ""),
                                        timeout=clients.timeout)
    return ListResponse(data=[FineTuningJob.from_pb(j) for j in r.data], has_more=r.has_more)


@router.get("/{job_id}", response_model=FineTuningJob, summary="Get a fine-tuning job")
async def get_job(job_id: str, clients: ClientsDep) -> FineTuningJob:
    return FineTuningJob.from_pb(
        await clients.training.GetJob(pb.GetJobRequest(id=job_id), timeout=clients.timeout))


@router.get("/{job_id}/events", response_model=ListResponse[JobEvent],
            summary="List a job's events, newest first")
async def list_events(job_id: str, clients: ClientsDep, after: After = None,
                      limit: Limit = 20) -> ListResponse[JobEvent]:
    r = await clients.training.ListJobEvents(
        pb.ListJobEventsRequest(job_id=job_id, limit=limit, after=after or ""),
        timeout=clients.timeout)
    return ListResponse(data=[JobEvent.from_pb(e) for e in r.data], has_more=r.has_more)


@router.post("/{job_id}/cancel", response_model=FineTuningJob, summary="Cancel a job")
async def cancel_job(job_id: str, clients: ClientsDep) -> FineTuningJob:
    return FineTuningJob.from_pb(
        await clients.training.CancelJob(pb.CancelJobRequest(id=job_id), timeout=clients.timeout))
