"""The gateway app with its lifespan, in front of small in-memory fakes of the four services
behind real gRPC, so tenancy tests exercise every route quickly and depend only on the proto
contracts."""

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx

from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.common import context as ctx
from services.common.errors import TuneForgeError, not_found
from services.common.grpc_server import rpc, running_server
from tuneforge.v1 import dataset_pb2 as dpb
from tuneforge.v1 import dataset_pb2_grpc, inference_pb2_grpc, registry_pb2_grpc
from tuneforge.v1 import inference_pb2 as ipb
from tuneforge.v1 import registry_pb2 as rpb
from tuneforge.v1 import training_pb2 as tpb
from tuneforge.v1 import training_pb2_grpc

BASE = "tiny-qwen2"
_ids = itertools.count(1)


def _new(prefix: str) -> str:
    return f"{prefix}-{next(_ids):05d}"


def _get(table: dict, key: str, what: str):
    if key not in table:
        raise not_found(what, key)
    return table[key]


class FakeDataset(dataset_pb2_grpc.DatasetServiceServicer):
    def __init__(self):
        self.files: dict[str, dpb.File] = {}
        self.uploaded_in: list[tuple[str, str]] = []  # (project, request id) of each upload

    @rpc
    async def UploadFile(self, request_iterator, context):
        self.uploaded_in.append((ctx.project.get(), ctx.request_id.get()))
        header, size = None, 0
        async for r in request_iterator:
            header = header or r.header
            size += len(r.chunk)
        f = dpb.File(id=_new("file"), filename=header.filename, purpose=header.purpose,
                     bytes=size, created_at=int(time.time()), status="processed")
        self.files[f.id] = f
        return f

    @rpc
    async def GetFile(self, request, context):
        return _get(self.files, request.id, "file")

    @rpc
    async def ListFiles(self, request, context):
        return dpb.ListFilesResponse(data=list(self.files.values()))

    @rpc
    async def DeleteFile(self, request, context):
        _get(self.files, request.id, "file")
        del self.files[request.id]
        return dpb.DeleteFileResponse(id=request.id, deleted=True)

    @rpc
    async def DownloadFile(self, request, context):
        _get(self.files, request.id, "file")
        yield dpb.FileChunk(data=b'{"messages": []}\n')

    @rpc
    async def GetFileReport(self, request, context):
        _get(self.files, request.id, "file")
        return dpb.FileReport()

    @rpc
    async def GetFileStats(self, request, context):
        _get(self.files, request.id, "file")
        return dpb.FileStats(model=request.model)

    @rpc
    async def PreviewFile(self, request, context):
        _get(self.files, request.id, "file")
        return dpb.FilePreview(model=request.model)


class FakeTraining(training_pb2_grpc.TrainingServiceServicer):
    def __init__(self, registry: "FakeRegistry"):
        self.jobs: dict[str, tpb.Job] = {}
        self.registry = registry

    def succeed(self, job_id: str) -> str:
        """Finish a job as the real service would: register its model with lineage."""
        job = self.jobs[job_id]
        model = f"ft:{job.model}:{job_id}"
        self.registry.put(rpb.Model(id=model, kind="fine-tuned", parent=job.model, name=model,
                                    owned_by="user", lineage=rpb.Lineage(job_id=job_id)))
        job.status, job.fine_tuned_model = "succeeded", model
        return model

    @rpc
    async def CreateJob(self, request, context):
        job = tpb.Job(id=_new("ftjob"), model=request.model, status="queued",
                      training_file=request.training_file, created_at=int(time.time()))
        self.jobs[job.id] = job
        return job

    @rpc
    async def GetJob(self, request, context):
        return _get(self.jobs, request.id, "fine-tuning job")

    @rpc
    async def ListJobs(self, request, context):
        return tpb.ListJobsResponse(data=list(self.jobs.values()))

    @rpc
    async def ListJobEvents(self, request, context):
        _get(self.jobs, request.job_id, "fine-tuning job")
        return tpb.ListJobEventsResponse()

    @rpc
    async def CancelJob(self, request, context):
        job = _get(self.jobs, request.id, "fine-tuning job")
        job.status = "cancelled"
        return job

    @rpc
    async def PauseJob(self, request, context):
        job = _get(self.jobs, request.id, "fine-tuning job")
        job.status = "paused"
        return job

    @rpc
    async def ResumeJob(self, request, context):
        job = _get(self.jobs, request.id, "fine-tuning job")
        job.status = "queued"
        return job

    @rpc
    async def ListJobCheckpoints(self, request, context):
        _get(self.jobs, request.job_id, "fine-tuning job")
        return tpb.ListJobCheckpointsResponse(data=[tpb.Checkpoint(
            id="ftckpt-1", job_id=request.job_id, step_number=4, created_at=1,
            fine_tuned_model_checkpoint="ft:x:ckpt-step-4", metrics={"train_loss": 1.5})])

    @rpc
    async def WatchJobEvents(self, request, context):
        _get(self.jobs, request.job_id, "fine-tuning job")
        yield tpb.JobEvent(id="ftevent-1", created_at=1, level="info", message="Created",
                           type="message")

    @rpc
    async def GetJobLogs(self, request, context):
        _get(self.jobs, request.job_id, "fine-tuning job")
        return tpb.JobLogs(job_id=request.job_id, text="rank 0: step 1", truncated=False)

    @rpc
    async def ListAgents(self, request, context):
        return tpb.ListAgentsResponse(data=[tpb.Agent(id="host-a", gpus=8, max_ranks=8)])

    @rpc
    async def EstimateJob(self, request, context):
        return tpb.MemoryEstimate(fits=True, per_device_gib=0.1, device_gib=12,
                                  breakdown_gib={"parameters": 0.05})


class FakeRegistry(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self):
        self.models: dict[str, rpb.Model] = {}
        self.aliases: dict[str, str] = {}
        self.put(rpb.Model(id=BASE, kind="base", name=BASE, owned_by="tuneforge"))

    def put(self, m: rpb.Model) -> rpb.Model:
        m.created_at = m.created_at or next(_ids)
        self.models[m.id] = m
        return m

    def _resolve(self, ref: str) -> rpb.Model:
        model = self.aliases.get(ref, ref)
        if model not in self.models:
            raise TuneForgeError("model_not_found", f"The model '{ref}' does not exist.",
                                 "model")
        return self.models[model]

    @rpc
    async def RegisterModel(self, request, context):
        return self.put(rpb.Model(id=request.id, kind=request.kind or "full",
                                  parent=request.parent, name=request.name or request.id,
                                  owned_by=request.owned_by or "user"))

    @rpc
    async def GetModel(self, request, context):
        return self._resolve(request.id)

    @rpc
    async def ListModels(self, request, context):
        return rpb.ListModelsResponse(data=list(self.models.values()))

    @rpc
    async def DeleteModel(self, request, context):
        m = self._resolve(request.id)
        del self.models[m.id]
        return rpb.DeleteModelResponse(id=m.id, deleted=True)

    @rpc
    async def MergeAdapter(self, request, context):
        m = self._resolve(request.id)
        return self.put(rpb.Model(id=request.new_id or f"{m.id}-merged", kind="fine-tuned",
                                  parent=m.parent, name=m.name, owned_by="user"))

    @rpc
    async def SetAlias(self, request, context):
        m = self._resolve(request.model)
        self.aliases[f"{request.name}@{request.alias}"] = m.id
        return rpb.Alias(name=request.name, alias=request.alias, model=m.id)

    @rpc
    async def DeleteAlias(self, request, context):
        m = self._resolve(f"{request.name}@{request.alias}")
        del self.aliases[f"{request.name}@{request.alias}"]
        return rpb.Alias(name=request.name, alias=request.alias, previous_model=m.id)

    @rpc
    async def ExportModel(self, request, context):
        m = self._resolve(request.id)
        yield rpb.ExportChunk(header=rpb.ExportHeader(filename=f"{m.id}.tar", size_bytes=3))
        yield rpb.ExportChunk(data=b"tar")


class FakeInference(inference_pb2_grpc.InferenceServiceServicer):
    def __init__(self):
        self.deployments: dict[str, ipb.Deployment] = {}
        self.hold = asyncio.Event()  # generations wait on it while `held` is true
        self.held = False

    @rpc
    async def CreateDeployment(self, request, context):
        d = ipb.Deployment(id=_new("dep"), model=request.model, status="ready",
                           backend="transformers", resolved_model=request.model,
                           created_at=int(time.time()))
        self.deployments[d.id] = d
        return d

    @rpc
    async def GetDeployment(self, request, context):
        return _get(self.deployments, request.id, "deployment")

    @rpc
    async def ListDeployments(self, request, context):
        return ipb.ListDeploymentsResponse(data=list(self.deployments.values()))

    @rpc
    async def DeleteDeployment(self, request, context):
        d = _get(self.deployments, request.id, "deployment")
        d.status = "deleted"
        return self.deployments.pop(request.id)

    async def _answer(self):
        if self.held:
            await self.hold.wait()
        yield ipb.CompletionChunk(text="hello", finish_reason="stop",
                                  usage=ipb.Usage(prompt_tokens=1, completion_tokens=1,
                                                  total_tokens=2))

    @rpc
    async def ChatCompletion(self, request, context):
        async for c in self._answer():
            yield c

    @rpc
    async def Completion(self, request, context):
        async for c in self._answer():
            yield c


class Fakes:
    def __init__(self):
        self.dataset, self.registry, self.inference = FakeDataset(), FakeRegistry(), \
            FakeInference()
        self.training = FakeTraining(self.registry)


@asynccontextmanager
async def fake_services(stack: AsyncExitStack) -> AsyncIterator[tuple[Fakes, dict]]:
    fakes, addrs = Fakes(), {}
    adders = {"dataset": dataset_pb2_grpc.add_DatasetServiceServicer_to_server,
              "training": training_pb2_grpc.add_TrainingServiceServicer_to_server,
              "registry": registry_pb2_grpc.add_RegistryServiceServicer_to_server,
              "inference": inference_pb2_grpc.add_InferenceServiceServicer_to_server}
    for name, add in adders.items():
        async def setup(_stack, server, add=add, svc=getattr(fakes, name)) -> None:
            add(svc, server)
        port = await stack.enter_async_context(running_server(name, "127.0.0.1:0", setup))
        addrs[f"{name}_addr"] = f"127.0.0.1:{port}"
    yield fakes, addrs


@asynccontextmanager
async def gateway(nats_url: str, prefix: str, database_url: str,
                  **overrides) -> AsyncIterator[tuple[httpx.AsyncClient, Fakes]]:
    """(HTTP client of a gateway whose lifespan ran, the fakes behind it)."""
    async with AsyncExitStack() as stack:
        fakes, addrs = await stack.enter_async_context(fake_services(stack))
        settings = GatewaySettings(_env_file=None, nats_url=nats_url,
                                   events_subject_prefix=prefix, database_url=database_url,
                                   **{**addrs, **overrides})
        app = create_app(settings)
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"))
        yield client, fakes
