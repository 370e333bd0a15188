"""TrainingService RPCs: proto messages to domain calls and back."""

from services.common.grpc_server import rpc
from services.training.service import JobRequest, TrainingService
from services.training.store import JobEventRecord, JobRecord
from tuneforge.v1 import common_pb2
from tuneforge.v1 import training_pb2 as pb
from tuneforge.v1 import training_pb2_grpc

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000


def _limit(value: int) -> int:
    return min(value, MAX_LIMIT) if value > 0 else DEFAULT_LIMIT


def hyperparameters_from_pb(hp: pb.Hyperparameters) -> dict:
    """Only the values the caller set; the service fills in the rest."""
    return {f.name: getattr(hp, f.name) for f in hp.DESCRIPTOR.fields if hp.HasField(f.name)}


def job_to_pb(job: JobRecord) -> pb.Job:
    err = job.error
    return pb.Job(
        id=job.id, model=job.model, training_file=job.training_file,
        validation_file=job.validation_file, suffix=job.suffix, status=job.status,
        fine_tuned_model=job.fine_tuned_model, created_at=job.created_at,
        finished_at=job.finished_at,
        error=common_pb2.Error(code=err["code"], message=err["message"],
                               param=err.get("param") or "") if err else None,
        hyperparameters=pb.Hyperparameters(**{k: v for k, v in job.hyperparameters.items()
                                                 if v is not None}), seed=job.seed,
        trained_tokens=job.trained_tokens, metadata=job.user_metadata,
    )


def event_to_pb(ev: JobEventRecord) -> pb.JobEvent:
    return pb.JobEvent(id=ev.id, created_at=ev.created_at, level=ev.level, message=ev.message,
                       type=ev.type, data_json=ev.data_json)


class TrainingServicer(training_pb2_grpc.TrainingServiceServicer):
    def __init__(self, service: TrainingService):
        self.service = service

    @rpc
    async def CreateJob(self, request: pb.CreateJobRequest, context) -> pb.Job:
        job = await self.service.create(JobRequest(
            model=request.model, training_file=request.training_file,
            validation_file=request.validation_file, suffix=request.suffix,
            hyperparameters=hyperparameters_from_pb(request.hyperparameters),
            seed=request.seed if request.HasField("seed") else None,
            metadata=dict(request.metadata),
        ))
        return job_to_pb(job)

    @rpc
    async def GetJob(self, request: pb.GetJobRequest, context) -> pb.Job:
        return job_to_pb(await self.service.get(request.id))

    @rpc
    async def ListJobs(self, request: pb.ListJobsRequest, context) -> pb.ListJobsResponse:
        jobs, more = await self.service.list_jobs(_limit(request.limit), request.after)
        return pb.ListJobsResponse(data=[job_to_pb(j) for j in jobs], has_more=more)

    @rpc
    async def ListJobEvents(self, request: pb.ListJobEventsRequest,
                            context) -> pb.ListJobEventsResponse:
        events, more = await self.service.list_events(request.job_id, _limit(request.limit),
                                                      request.after)
        return pb.ListJobEventsResponse(data=[event_to_pb(e) for e in events], has_more=more)

    @rpc
    async def CancelJob(self, request: pb.CancelJobRequest, context) -> pb.Job:
        return job_to_pb(await self.service.cancel(request.id))
