"""The request id and project travel from a caller's context through gRPC metadata, across a
service that calls another, into the callee's context, its JSON log lines and the subjects of
its events; each call is counted in the server's Prometheus metrics."""

import asyncio
import io
import json
import logging
from contextlib import AsyncExitStack

import grpc
import httpx
import nats
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.common import context as ctx
from services.common.events import DatasetUploaded, EventBus, subject_filter
from services.common.grpc_client import open_channel
from services.common.grpc_server import rpc, running_server
from services.common.logs import ContextFilter, formatter
from services.common.metrics import GRPC_HANDLED, GRPC_HANDLING, GRPC_IN_FLIGHT, ServiceMetrics
from tests.support import free_port
from tuneforge.v1 import dataset_pb2 as dpb
from tuneforge.v1 import dataset_pb2_grpc, registry_pb2, registry_pb2_grpc

log = logging.getLogger("tests.request_context")


class Back(registry_pb2_grpc.RegistryServiceServicer):
    """The far service: logs, publishes an event, and says what context it ran in."""

    def __init__(self, events: EventBus):
        self.events = events

    @rpc
    async def GetModel(self, request, context):
        log.info("looking up %s", request.id)
        await self.events.publish(DatasetUploaded(file_id=request.id, filename="a.jsonl",
                                                  sha256="0" * 64, num_examples=1))
        return registry_pb2.Model(id=request.id, owned_by=ctx.project.get(),
                                  parent=ctx.request_id.get())


class Front(dataset_pb2_grpc.DatasetServiceServicer):
    """The near service: answers by calling Back, as services call each other."""

    def __init__(self, back: registry_pb2_grpc.RegistryServiceStub):
        self.back = back

    @rpc
    async def GetFile(self, request, context):
        model = await self.back.GetModel(registry_pb2.GetModelRequest(id=request.id))
        return dpb.File(id=model.id, filename=model.owned_by, status_details=model.parent)

    @rpc
    async def UploadFile(self, request_iterator, context):
        async for _ in request_iterator:
            pass
        return dpb.File(filename=ctx.project.get(), status_details=ctx.request_id.get())

    @rpc
    async def DownloadFile(self, request, context):
        yield dpb.FileChunk(data=f"{ctx.project.get()} {ctx.request_id.get()}".encode())


@pytest.fixture
def log_lines():
    """JSON lines the test logger writes, formatted as a service's are."""
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.addFilter(ContextFilter())
    handler.setFormatter(formatter("registry", "json"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in buf.getvalue().splitlines()]
    log.removeHandler(handler)


@pytest.fixture
async def services(nats_url, event_prefix):
    """(stub of Front, Front's metrics port); Front calls Back over a real channel."""
    async with AsyncExitStack() as stack:
        bus = await EventBus(nats_url, f"S{event_prefix}", event_prefix).connect()
        stack.push_async_callback(bus.close)

        async def back_setup(_stack, server):
            registry_pb2_grpc.add_RegistryServiceServicer_to_server(Back(bus), server)
        back_port = await stack.enter_async_context(
            running_server("registry", "127.0.0.1:0", back_setup))

        async def front_setup(s, server):
            back = registry_pb2_grpc.RegistryServiceStub(
                open_channel(s, f"127.0.0.1:{back_port}"))
            dataset_pb2_grpc.add_DatasetServiceServicer_to_server(Front(back), server)
        metrics_port = free_port()
        front_port = await stack.enter_async_context(running_server(
            "dataset", "127.0.0.1:0", front_setup, metrics=ServiceMetrics("dataset"),
            metrics_port=metrics_port))
        stub = dataset_pb2_grpc.DatasetServiceStub(
            open_channel(stack, f"127.0.0.1:{front_port}"))
        yield stub, metrics_port


async def test_project_and_request_id_reach_the_callee_its_logs_and_its_events(
        services, log_lines, nats_url, event_prefix):
    stub, _ = services
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.jetstream().pull_subscribe(subject_filter(event_prefix, project="team-a"),
                                                  stream=f"S{event_prefix}")
        rid_token, project_token = ctx.request_id.set("req-42"), ctx.project.set("team-a")
        try:
            f = await stub.GetFile(dpb.GetFileRequest(id="file-1"))
        finally:
            ctx.request_id.reset(rid_token)
            ctx.project.reset(project_token)
        msgs = await asyncio.wait_for(sub.fetch(1), 5)
    finally:
        await nc.drain()

    assert (f.filename, f.status_details) == ("team-a", "req-42")  # Back's context
    line = next(x for x in log_lines() if x["message"] == "looking up file-1")
    assert (line["project"], line["request_id"], line["service"]) == ("team-a", "req-42",
                                                                      "registry")
    assert {"time", "level", "logger"} <= line.keys() and line["level"] == "INFO"
    assert msgs[0].subject == f"{event_prefix}.v1.team-a.dataset.file.uploaded"
    assert json.loads(msgs[0].data)["project"] == "team-a"


async def test_streaming_calls_carry_the_context_too(services):
    stub, _ = services

    async def parts():
        yield dpb.UploadFileRequest(chunk=b"{}")
    with ctx.project_context("team-b"):
        token = ctx.request_id.set("req-s")
        try:
            uploaded = await stub.UploadFile(parts())
            chunks = [c.data async for c in stub.DownloadFile(dpb.DownloadFileRequest(id="f"))]
        finally:
            ctx.request_id.reset(token)

    assert (uploaded.filename, uploaded.status_details) == ("team-b", "req-s")
    assert chunks == [b"team-b req-s"]


async def test_call_outside_any_project_is_the_default_projects(services, nats_url,
                                                                event_prefix):
    stub, _ = services
    f = await stub.GetFile(dpb.GetFileRequest(id="file-2"))

    assert (f.filename, f.status_details) == ("", "-")  # nothing leaks from earlier calls
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.jetstream().pull_subscribe(subject_filter(event_prefix),
                                                  stream=f"S{event_prefix}")
        msgs = await asyncio.wait_for(sub.fetch(1), 5)
    finally:
        await nc.drain()
    assert msgs[0].subject == f"{event_prefix}.v1.default.dataset.file.uploaded"


async def test_project_metadata_that_is_not_a_subject_token_is_refused_naming_it(services):
    stub, _ = services
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.GetFile(dpb.GetFileRequest(id="file-3"),
                           metadata=[(ctx.PROJECT_KEY, "team.a.>")])

    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "x-tuneforge-project" in e.value.details() and "'team.a.>'" in e.value.details()


def sample(text: str, name: str, **labels) -> float | None:
    """The value of one series in a Prometheus text exposition; None when absent."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return None


async def test_metrics_count_calls_by_method_and_code(services):
    stub, metrics_port = services
    await stub.GetFile(dpb.GetFileRequest(id="file-4"))
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.ListFiles(dpb.ListFilesRequest())  # Front does not implement it
    async with httpx.AsyncClient() as http:
        r = await http.get(f"http://127.0.0.1:{metrics_port}/metrics")

    assert r.status_code == 200
    get_file = {"service": "dataset", "method": "DatasetService/GetFile"}
    assert sample(r.text, GRPC_HANDLED, code="OK", **get_file) == 1
    assert sample(r.text, GRPC_HANDLED, code="UNIMPLEMENTED", service="dataset",
                  method="DatasetService/ListFiles") == 1
    assert sample(r.text, GRPC_HANDLING + "_count", **get_file) == 1
    assert sample(r.text, GRPC_IN_FLIGHT, service="dataset") == 0
