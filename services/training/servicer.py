"""TrainingService RPCs: proto messages to domain calls and back."""

from services.common.grpc_server import rpc
from services.training.memory import GIB, Estimate
from services.training.service import JobRequest, TrainingService
from services.training.store import CheckpointRecord, JobEventRecord, JobRecord
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
        eval_prompts=job.eval_prompts or [], auto_deploy=job.auto_deploy, alias=job.alias,
        deployment=job.deployment, estimated_finish=job.estimated_finish, step=job.step,
        total_steps=job.total_steps,
        evaluation=_evaluation(job.evaluation) if job.evaluation else None,
    )


def _evaluation(ev: dict) -> pb.Evaluation:
    return pb.Evaluation(metrics=ev.get("metrics") or {},
                         comparisons=[pb.Comparison(**c) for c in ev.get("comparisons") or []])


def checkpoint_to_pb(c: CheckpointRecord) -> pb.Checkpoint:
    return pb.Checkpoint(id=c.id, created_at=c.created_at, fine_tuned_model_checkpoint=c.model,
                         step_number=c.step, metrics=c.metrics, job_id=c.job_id)


def estimate_to_pb(e: Estimate) -> pb.MemoryEstimate:
    return pb.MemoryEstimate(
        fits=e.fits, per_device_gib=e.per_device_bytes / GIB, device_gib=e.device_bytes / GIB,
        cpu_offload_gib=e.host_bytes / GIB,
        breakdown_gib={k: v / GIB for k, v in e.breakdown.items()}, suggestion=e.suggestion,
        trainable_parameters=e.trainable_parameters)


def job_request(request: pb.CreateJobRequest) -> JobRequest:
    return JobRequest(
        model=request.model, training_file=request.training_file,
        validation_file=request.validation_file, suffix=request.suffix,
        hyperparameters=hyperparameters_from_pb(request.hyperparameters),
        seed=request.seed if request.HasField("seed") else None,
        metadata=dict(request.metadata), eval_prompts=list(request.eval_prompts),
        auto_deploy=request.auto_deploy, alias=request.alias,
    )


def event_to_pb(ev: JobEventRecord) -> pb.JobEvent:
    return pb.JobEvent(id=ev.id, created_at=ev.created_at, level=ev.level, message=ev.message,
                       type=ev.type, data_json=ev.data_json)


class TrainingServicer(training_pb2_grpc.TrainingServiceServicer):
    def __init__(self, service: TrainingService):
        self.service = service

    @rpc
    async def CreateJob(self, request: pb.CreateJobRequest, context) -> pb.Job:
        return job_to_pb(await self.service.create(job_request(request)))

    @rpc
    async def EstimateJob(self, request: pb.CreateJobRequest, context) -> pb.MemoryEstimate:
        return estimate_to_pb(await self.service.estimate(job_request(request)))

    @rpc
    async def GetJob(self, request: pb.GetJobRequest, context) -> pb.Job:
        return job_to_pb(await self.service.get(request.id))

    @rpc
    async def ListJobs(self, request: pb.ListJobsRequest, context) -> pb.ListJobsResponse:
        jobs, more = await self.service.list_jobs(_limit(request.limit), request.after,
                                                  request.status, dict(request.metadata))
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

    @rpc
    async def PauseJob(self, request: pb.PauseJobRequest, context) -> pb.Job:
        return job_to_pb(await self.service.pause(request.id))

    @rpc
    async def ResumeJob(self, request: pb.ResumeJobRequest, context) -> pb.Job:
        return job_to_pb(await self.service.resume(request.id))

    @rpc
    async def ListJobCheckpoints(self, request: pb.ListJobCheckpointsRequest,
                                 context) -> pb.ListJobCheckpointsResponse:
        found, more = await self.service.checkpoints(request.job_id, _limit(request.limit),
                                                     request.after)
        return pb.ListJobCheckpointsResponse(data=[checkpoint_to_pb(c) for c in found],
                                             has_more=more)

    @rpc
    async def WatchJobEvents(self, request: pb.WatchJobEventsRequest, context):
        async for event in self.service.watch_events(request.job_id, request.after):
            yield event_to_pb(event)

    @rpc
    async def GetJobLogs(self, request: pb.GetJobLogsRequest, context) -> pb.JobLogs:
        tail = min(request.tail_lines, 10_000) if request.tail_lines > 0 else 200
        text, truncated = await self.service.logs(request.job_id, tail)
        return pb.JobLogs(job_id=request.job_id, text=text, truncated=truncated)

    @rpc
    async def ListAgents(self, request: pb.ListAgentsRequest, context) -> pb.ListAgentsResponse:
        return pb.ListAgentsResponse(data=[pb.Agent(
            id=a.id, started_at=a.started_at, seen_at=a.seen_at, gpus=a.cuda_devices,
            gpu_memory_gib=a.gpu_memory_bytes / GIB, host_memory_gib=a.host_memory_bytes / GIB,
            cpu_count=a.cpu_count, bf16=a.bf16, max_ranks=a.max_ranks, max_jobs=a.max_jobs,
            running=a.running) for a in await self.service.agents()])
