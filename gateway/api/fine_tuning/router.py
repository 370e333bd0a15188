"""/v1/fine_tuning/jobs: create, follow, pause, resume and cancel fine-tuning jobs."""

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request

from gateway.api.chat.responses import event, sse
from gateway.api.common import ERRORS, ListResponse
from gateway.api.fine_tuning.protocol import (Agent, Checkpoint, CreateFineTuningJob,
                                              FineTuningJob, JobEvent, JobLogs, MemoryEstimate)
from gateway.clients import ClientsDep
from tuneforge.v1 import training_pb2 as pb

router = APIRouter(prefix="/v1/fine_tuning/jobs", tags=["fine-tuning"], responses=ERRORS)
agents_router = APIRouter(prefix="/v1/fine_tuning/agents", tags=["fine-tuning"],
                          responses=ERRORS)

Limit = Annotated[int, Query(ge=1, le=1000, description="Objects per page.")]
After = Annotated[str | None, Query(description="Id of the last object of the previous page.")]
Status = Annotated[str | None, Query(
    description="Only jobs with this status: queued, running, paused, succeeded, failed or "
                "cancelled.")]
_METADATA = re.compile(r"metadata\[(.+)\]")


@router.post("", response_model=FineTuningJob, summary="Create a fine-tuning job")
async def create_job(body: CreateFineTuningJob, clients: ClientsDep) -> FineTuningJob:
    return FineTuningJob.from_pb(await clients.training.CreateJob(body.to_pb(),
                                                                  timeout=clients.timeout))


@router.post("/estimate", response_model=MemoryEstimate,
             summary="Check whether a job would fit in memory, without creating it")
async def estimate_job(body: CreateFineTuningJob, clients: ClientsDep) -> MemoryEstimate:
    return MemoryEstimate.from_pb(await clients.training.EstimateJob(body.to_pb(),
                                                                     timeout=clients.timeout))


@router.get("", response_model=ListResponse[FineTuningJob], summary="List fine-tuning jobs",
            description="Newest first. Filter with `status=` and with `metadata[key]=value` "
                        "(repeatable: every pair must match).")
async def list_jobs(request: Request, clients: ClientsDep, after: After = None,
                    limit: Limit = 20, status: Status = None) -> ListResponse[FineTuningJob]:
    metadata = {m[1]: v for k, v in request.query_params.items()
                if (m := _METADATA.fullmatch(k))}
    r = await clients.training.ListJobs(
        pb.ListJobsRequest(limit=limit, after=after or "", status=status or "",
                           metadata=metadata), timeout=clients.timeout)
    return ListResponse(data=[FineTuningJob.from_pb(j) for j in r.data], has_more=r.has_more)


@router.get("/{job_id}", response_model=FineTuningJob, summary="Get a fine-tuning job")
async def get_job(job_id: str, clients: ClientsDep) -> FineTuningJob:
    return FineTuningJob.from_pb(
        await clients.training.GetJob(pb.GetJobRequest(id=job_id), timeout=clients.timeout))


@router.get("/{job_id}/events", response_model=ListResponse[JobEvent],
            summary="List a job's events, newest first; or follow them live",
            description="With `stream=true`: server-sent events, oldest first from `after`, "
                        "each a fine_tuning.job.event, as they happen until the job ends or "
                        "pauses, then `[DONE]`.",
            responses={200: {"content": {"text/event-stream": {}}}})
async def list_events(job_id: str, clients: ClientsDep, after: After = None,
                      limit: Limit = 20, stream: bool = False):
    if stream:
        # Checked before the stream opens, so an unknown job is a plain 404.
        await clients.training.GetJob(pb.GetJobRequest(id=job_id), timeout=clients.timeout)
        return sse(_follow(clients, job_id, after or ""))
    r = await clients.training.ListJobEvents(
        pb.ListJobEventsRequest(job_id=job_id, limit=limit, after=after or ""),
        timeout=clients.timeout)
    return ListResponse(data=[JobEvent.from_pb(e) for e in r.data], has_more=r.has_more)


async def _follow(clients, job_id: str, after: str):
    call = clients.training.WatchJobEvents(pb.WatchJobEventsRequest(job_id=job_id, after=after))
    try:
        async for e in call:
            yield event(JobEvent.from_pb(e).model_dump_json())
    finally:
        call.cancel()


@router.get("/{job_id}/checkpoints", response_model=ListResponse[Checkpoint],
            summary="List a job's checkpoints, newest first")
async def list_checkpoints(job_id: str, clients: ClientsDep, after: After = None,
                           limit: Limit = 10) -> ListResponse[Checkpoint]:
    r = await clients.training.ListJobCheckpoints(
        pb.ListJobCheckpointsRequest(job_id=job_id, limit=limit, after=after or ""),
        timeout=clients.timeout)
    return ListResponse(data=[Checkpoint.from_pb(c) for c in r.data], has_more=r.has_more)


@router.post("/{job_id}/cancel", response_model=FineTuningJob, summary="Cancel a job")
async def cancel_job(job_id: str, clients: ClientsDep) -> FineTuningJob:
    return FineTuningJob.from_pb(
        await clients.training.CancelJob(pb.CancelJobRequest(id=job_id), timeout=clients.timeout))


@router.post("/{job_id}/pause", response_model=FineTuningJob,
             summary="Pause a job: it saves a checkpoint and frees its hardware")
async def pause_job(job_id: str, clients: ClientsDep) -> FineTuningJob:
    return FineTuningJob.from_pb(
        await clients.training.PauseJob(pb.PauseJobRequest(id=job_id), timeout=clients.timeout))


@router.post("/{job_id}/resume", response_model=FineTuningJob,
             summary="Resume a paused job from its latest checkpoint")
async def resume_job(job_id: str, clients: ClientsDep) -> FineTuningJob:
    return FineTuningJob.from_pb(
        await clients.training.ResumeJob(pb.ResumeJobRequest(id=job_id),
                                         timeout=clients.timeout))


@router.get("/{job_id}/logs", response_model=JobLogs,
            summary="The last lines of the job's rank logs (stderr of every rank)")
async def job_logs(job_id: str, clients: ClientsDep,
                   tail: Annotated[int, Query(ge=1, le=10_000,
                                              description="Lines from the end.")] = 200
                   ) -> JobLogs:
    r = await clients.training.GetJobLogs(pb.GetJobLogsRequest(job_id=job_id, tail_lines=tail),
                                          timeout=clients.timeout)
    return JobLogs(job_id=r.job_id, text=r.text, truncated=r.truncated)


@agents_router.get("", response_model=ListResponse[Agent],
                   summary="The training agents, their hardware and their jobs")
async def list_agents(clients: ClientsDep) -> ListResponse[Agent]:
    r = await clients.training.ListAgents(pb.ListAgentsRequest(), timeout=clients.timeout)
    return ListResponse(data=[Agent.from_pb(a) for a in r.data], has_more=False)
