"""Per-RPC isolation rules: (shape, check before the call, step after it) for each method."""

from gateway.auth.keys import Principal
from gateway.auth.ownership import Ownership
from services.common.errors import TuneForgeError
from tuneforge.v1 import training_pb2

ACTIVE_JOB_STATES = ("validating_files", "queued", "running")


async def _none(_):
    return None


def _filter(own: Ownership, who: Principal, kind: str):
    async def after(_, response):
        keep = await own.keep(kind, [o.id for o in response.data], who)
        kept = [o for o in response.data if o.id in keep]
        del response.data[:]
        response.data.extend(kept)
        return response
    return after


def _record(own: Ownership, who: Principal, kind: str):
    async def after(_, response):
        await own.record(kind, response.id, who)
        return response
    return after


def dataset(own: Ownership, who: Principal) -> dict:
    async def file(req):
        await own.check("file", req.id, who, "file", "file_id")

    async def file_and_model(req):
        await file(req)
        await own.check_model(req.model, who)

    return {
        "GetFile": ("unary", file, None), "DeleteFile": ("unary", file, None),
        "DownloadFile": ("stream", file, None), "GetFileReport": ("unary", file, None),
        "GetTokenizedFile": ("unary", file_and_model, None),
        "GetFileStats": ("unary", file_and_model, None),
        "PreviewFile": ("unary", file_and_model, None),
        "ListFiles": ("unary", _none, _filter(own, who, "file")),
        "UploadFile": ("unary", _none, _record(own, who, "file")),
    }


def training(own: Ownership, who: Principal, max_active_jobs: int, stub) -> dict:
    async def job(req):
        await own.check("job", getattr(req, "id", "") or getattr(req, "job_id", ""), who,
                        "fine-tuning job", "job_id")

    async def inputs(req):
        await own.check("file", req.training_file, who, "file", "training_file")
        await own.check("file", req.validation_file, who, "file", "validation_file")
        await own.check_model(req.model, who)

    async def quota():
        if await _active_jobs(stub, own, who) >= max_active_jobs:
            raise TuneForgeError("rate_limited", f"Project {who.project_id} already has "
                                 f"{max_active_jobs} fine-tuning jobs queued or running; "
                                 "wait for one to finish or cancel one.")

    async def create(req):
        await inputs(req)
        await quota()

    async def resume(req):
        await job(req)
        await quota()

    return {
        "CreateJob": ("unary", create, _record(own, who, "job")),
        "EstimateJob": ("unary", inputs, None),
        "GetJob": ("unary", job, None), "CancelJob": ("unary", job, None),
        "PauseJob": ("unary", job, None), "ResumeJob": ("unary", resume, None),
        "ListJobEvents": ("unary", job, None), "WatchJobEvents": ("stream", job, None),
        "ListJobCheckpoints": ("unary", job, None), "GetJobLogs": ("unary", job, None),
        "ListJobs": ("unary", _none, _filter(own, who, "job")),
    }


async def _active_jobs(stub, own: Ownership, who: Principal) -> int:
    count, after = 0, ""
    while True:
        page = await stub.ListJobs(training_pb2.ListJobsRequest(limit=1000, after=after),
                                   timeout=own.timeout)
        active = [j.id for j in page.data if j.status in ACTIVE_JOB_STATES]
        count += len(await own.keep("job", active, who))
        if not page.has_more or not page.data:
            return count
        after = page.data[-1].id


def registry(own: Ownership, who: Principal) -> dict:
    async def read(req):
        await own.check_model(req.id, who)

    async def change(req):
        await own.check_model(req.id, who, change=True)

    async def register(req):
        await own.check_model(req.parent, who)

    async def set_alias(req):
        await own.check_model(req.model, who, change=True)

    async def delete_alias(req):
        await own.check_model(f"{req.name}@{req.alias}", who, change=True)

    async def visible(_, response):
        keep = await own.visible_models(list(response.data), who)
        kept = [m for m in response.data if m.id in keep]
        del response.data[:]
        response.data.extend(kept)
        return response

    record = _record(own, who, "model")
    return {
        "GetModel": ("unary", read, None), "ExportModel": ("stream", read, None),
        "DeleteModel": ("unary", change, None),
        "MergeAdapter": ("unary", change, record),
        "RegisterModel": ("unary", register, record),
        "SetAlias": ("unary", set_alias, None),
        "DeleteAlias": ("unary", delete_alias, None),
        "ListModels": ("unary", _none, visible),
    }


def inference(own: Ownership, who: Principal) -> dict:
    async def deployment(req):
        await own.check("deployment", req.id, who, "deployment", "deployment_id")

    async def model(req):
        await own.check_model(req.model, who)

    return {
        "CreateDeployment": ("unary", model, _record(own, who, "deployment")),
        "GetDeployment": ("unary", deployment, None),
        "DeleteDeployment": ("unary", deployment, None),
        "ListDeployments": ("unary", _none, _filter(own, who, "deployment")),
        "ChatCompletion": ("stream", model, None), "Completion": ("stream", model, None),
    }
