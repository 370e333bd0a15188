"""The dataset service over real gRPC, NATS, a local artifact store and SQLite or PostgreSQL."""

import asyncio
import hashlib
import json

import grpc
import nats
import pytest

from services.common.artifacts import LocalArtifactStore
from services.common.errors import TuneForgeError
from services.common.events import decode
from services.common.grpc_client import channel
from services.common.grpc_server import running_server
from services.dataset.server import make_setup
from services.dataset.settings import DatasetSettings
from tuneforge.v1 import dataset_pb2 as pb
from tuneforge.v1 import dataset_pb2_grpc, training_pb2, training_pb2_grpc

SEED = json.dumps([
    {"id": "112720", "source": "cot", "conversations": [
        {"from": "user", "value": "你好"},
        {"from": "assistant", "value": "您好，我是小智，一个由360智汇云开发的 AI 助手。"}]},
    {"id": "55381", "source": "grad_1_6", "conversations": [
        {"from": "user", "value": "你是谁"},
        {"from": "assistant", "value": "您好，我是小智，请问有什么可以帮您？"}]},
], ensure_ascii=False, indent=2).encode()


class FakeTraining(training_pb2_grpc.TrainingServiceServicer):
    """The training service's ListJobs over a list of jobs, in pages of two."""

    def __init__(self):
        self.jobs: list[training_pb2.Job] = []

    async def ListJobs(self, request, context):
        start = next((i + 1 for i, j in enumerate(self.jobs) if j.id == request.after), 0)
        page = self.jobs[start:start + 2]
        return training_pb2.ListJobsResponse(data=page, has_more=start + 2 < len(self.jobs))


@pytest.fixture
async def training():
    fake = FakeTraining()

    async def setup(stack, server):
        training_pb2_grpc.add_TrainingServiceServicer_to_server(fake, server)

    async with running_server("training", "127.0.0.1:0", setup) as port:
        yield fake, f"127.0.0.1:{port}"


@pytest.fixture
async def dataset(tmp_path, nats_url, event_prefix, database_url, training):
    settings = DatasetSettings(
        _env_file=None, data_dir=tmp_path, nats_url=nats_url, database_url=database_url,
        events_subject_prefix=event_prefix, events_stream=f"S{event_prefix}",
        max_upload_bytes=64 * 1024, training_addr=training[1])
    async with running_server("dataset", "127.0.0.1:0", make_setup(settings)) as port:
        async with channel(f"127.0.0.1:{port}") as ch:
            yield dataset_pb2_grpc.DatasetServiceStub(ch), settings


def artifacts(settings) -> LocalArtifactStore:
    return LocalArtifactStore(settings.artifact_root)


async def upload(stub, data: bytes, filename="seed.json", purpose="fine-tune",
                 chunk=100) -> pb.File:
    """Upload in small chunks, so the server really reassembles a stream."""
    async def requests():
        yield pb.UploadFileRequest(header=pb.UploadFileHeader(filename=filename, purpose=purpose))
        for i in range(0, len(data), chunk):
            yield pb.UploadFileRequest(chunk=data[i:i + chunk])
    return await stub.UploadFile(requests())


async def failure(call) -> tuple[grpc.StatusCode, TuneForgeError]:
    """The gRPC status and the TuneForge error an RPC failed with."""
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await call
    return e.value.code(), TuneForgeError.from_rpc_error(e.value)


async def download(stub, file_id: str) -> bytes:
    return b"".join([c.data async for c in stub.DownloadFile(pb.DownloadFileRequest(id=file_id))])


async def events(nats_url, event_prefix, suffix: str, n: int) -> list:
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.jetstream().pull_subscribe(
            f"{event_prefix}.v1.*.dataset.file.{suffix}", stream=f"S{event_prefix}")
        return [decode(m.subject, m.data) for m in await asyncio.wait_for(sub.fetch(n), 5)]
    finally:
        await nc.drain()


async def test_upload_stores_raw_and_canonical_content_addressed(dataset):
    stub, settings = dataset
    f = await upload(stub, SEED)
    sha = hashlib.sha256(SEED).hexdigest()
    assert f.id.startswith("file-")
    assert (f.filename, f.purpose, f.status, f.bytes) == ("seed.json", "fine-tune", "processed",
                                                          len(SEED))
    assert (f.sha256, f.format, f.num_examples) == (sha, "conversations-json", 2)
    assert f.artifact_key == f"datasets/{sha}/canonical.jsonl"
    store = artifacts(settings)
    assert store.get_bytes(f"datasets/{sha}/raw") == SEED
    canonical = [json.loads(line) for line in store.get_bytes(f.artifact_key).splitlines()]
    assert canonical[0] == {"id": "112720", "messages": [
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "您好，我是小智，一个由360智汇云开发的 AI 助手。"}]}
    assert not any(settings.spool_root.iterdir()), "the spooled upload is removed"


async def test_uploaded_file_can_be_got_listed_and_downloaded(dataset):
    stub, _ = dataset
    f = await upload(stub, SEED)
    assert await stub.GetFile(pb.GetFileRequest(id=f.id)) == f
    listed = await stub.ListFiles(pb.ListFilesRequest(purpose="fine-tune"))
    assert [x.id for x in listed.data] == [f.id] and not listed.has_more
    assert await download(stub, f.id) == SEED


async def test_upload_publishes_dataset_uploaded(dataset, nats_url, event_prefix):
    stub, _ = dataset
    f = await upload(stub, SEED)
    (event,) = await events(nats_url, event_prefix, "uploaded", 1)
    assert (event.file_id, event.filename, event.sha256, event.num_examples) == (
        f.id, "seed.json", f.sha256, 2)


async def test_identical_content_is_stored_once_and_kept_until_its_last_file_is_deleted(
        dataset, nats_url, event_prefix):
    stub, settings = dataset
    first = await upload(stub, SEED, filename="a.json")
    second = await upload(stub, SEED, filename="b.json", chunk=4096)
    store = artifacts(settings)
    assert first.id != second.id
    assert first.artifact_key == second.artifact_key
    assert len(store.list("datasets/")) == 4  # raw, canonical, report, summary

    deleted = await stub.DeleteFile(pb.DeleteFileRequest(id=first.id))
    assert (deleted.id, deleted.deleted) == (first.id, True)
    status, err = await failure(stub.GetFile(pb.GetFileRequest(id=first.id)))
    assert (status, err.code, err.param) == (grpc.StatusCode.NOT_FOUND, "not_found", "file_id")
    assert await download(stub, second.id) == SEED, "content still used by the second file"

    await stub.DeleteFile(pb.DeleteFileRequest(id=second.id))
    assert store.list("datasets/") == []
    gone = await events(nats_url, event_prefix, "deleted", 2)
    assert [e.file_id for e in gone] == [first.id, second.id]


BAD = (b'{"conversations": [{"from": "user", "value": "hi"}, '
       b'{"from": "assistant", "value": "hello"}]}\n'
       b'{"conversations": [{"from": "user", "value": "hi"}, {"from": "bot", "value": "x"}]}\n'
       b'not json\n')


async def only_file(stub) -> pb.File:
    (f,) = (await stub.ListFiles(pb.ListFilesRequest())).data
    return f


async def test_invalid_file_is_refused_naming_its_errors_and_kept_with_status_error(dataset):
    stub, settings = dataset
    status, err = await failure(upload(stub, BAD, filename="bad.jsonl"))
    assert (status, err.code, err.param) == (grpc.StatusCode.INVALID_ARGUMENT, "invalid_file",
                                             "file")
    details = ('The file has 2 errors: line 2: conversations[1].from: unknown role "bot" '
               "(expected user, assistant or system); line 3: invalid JSON: Expecting value "
               "(column 1)")
    f = await only_file(stub)
    assert err.message == (f"{details} (kept as {f.id} with status error; its report lists "
                           "every problem)")
    assert (f.status, f.status_details, f.num_errors, f.num_warnings) == ("error", details, 2, 0)
    assert (f.num_examples, f.artifact_key, f.format) == (1, "", "conversations-jsonl")
    assert await download(stub, f.id) == BAD, "the bytes are kept"
    assert not artifacts(settings).exists(f"datasets/{f.sha256}/canonical.jsonl")
    assert not any(settings.spool_root.iterdir())


async def test_report_lists_every_problem_in_pages(dataset):
    stub, _ = dataset
    good = json.loads(BAD.splitlines()[0])
    lines = [json.dumps(good | {"id": str(n)}) for n in range(3)]
    lines += ["[]"] * 6 + [json.dumps(good | {"id": "1"})]
    lines.append(json.dumps({"messages": [{"role": "user", "content": "q"},
                                          {"role": "assistant", "content": "a"},
                                          {"role": "user", "content": "more?"}]}))
    await failure(upload(stub, "\n".join(lines).encode(), filename="many.jsonl"))
    f = await only_file(stub)
    first = await stub.GetFileReport(pb.GetFileReportRequest(id=f.id, limit=5))
    assert (first.num_errors, first.num_warnings, first.has_more, first.truncated) == (
        8, 1, True, False)
    assert [p.number for p in first.data] == [1, 2, 3, 4, 5]
    assert first.data[0].text == "line 4: expected a JSON object, got an array"
    assert (first.data[0].severity, first.data[0].line, first.data[0].index) == ("error", 4, -1)
    rest = await stub.GetFileReport(pb.GetFileReportRequest(id=f.id, after=5, limit=5))
    assert not rest.has_more
    assert [p.text for p in rest.data[1:]] == [
        'line 10: id: duplicate id "1" (first used at line 2)',
        "line 11: messages: the file's first record uses \"conversations\"; one file cannot "
        "mix formats",
        "line 11: messages[2].role: the conversation ends with a user turn, which is context "
        "only: nothing after it is learned"]
    assert (rest.data[-1].severity, rest.data[-1].path) == ("warning", "messages[2].role")


async def test_upload_events_say_validated_or_invalid(dataset, nats_url, event_prefix):
    stub, _ = dataset
    ok = await upload(stub, SEED)
    await failure(upload(stub, BAD, filename="bad.jsonl"))
    uploaded = await events(nats_url, event_prefix, "uploaded", 2)
    (validated,) = await events(nats_url, event_prefix, "validated", 1)
    (refused,) = await events(nats_url, event_prefix, "invalid", 1)
    assert uploaded[0].file_id == validated.file_id == ok.id
    assert (validated.num_examples, validated.num_warnings) == (2, 0)
    assert refused.file_id == uploaded[1].file_id != ok.id
    assert (refused.num_errors, refused.num_examples) == (2, 1)
    assert refused.status_details.startswith("The file has 2 errors: line 2:")


async def test_delete_is_refused_while_a_queued_or_running_job_uses_the_file(dataset, training):
    stub, _ = dataset
    fake, _ = training
    f = await upload(stub, SEED)
    fake.jobs = [training_pb2.Job(id=f"ftjob-{n}", training_file="file-other", status="running")
                 for n in range(3)]
    fake.jobs += [training_pb2.Job(id="ftjob-done", training_file=f.id, status="succeeded"),
                  training_pb2.Job(id="ftjob-val", training_file="file-x", validation_file=f.id,
                                   status="queued")]
    status, err = await failure(stub.DeleteFile(pb.DeleteFileRequest(id=f.id)))
    assert (status, err.code, err.param) == (grpc.StatusCode.FAILED_PRECONDITION, "conflict",
                                             "file_id")
    assert err.message == (f"File '{f.id}' is in use by fine-tuning job ftjob-val (queued); "
                           "cancel the job or wait for it to finish before deleting the file.")
    assert await stub.GetFile(pb.GetFileRequest(id=f.id)) == f

    fake.jobs[-1].status = "cancelled"
    assert (await stub.DeleteFile(pb.DeleteFileRequest(id=f.id))).deleted


async def test_delete_is_refused_when_the_training_service_cannot_be_asked(
        tmp_path, nats_url, event_prefix, database_url):
    from tests.support import free_port

    settings = DatasetSettings(
        _env_file=None, data_dir=tmp_path, nats_url=nats_url, database_url=database_url,
        events_subject_prefix=event_prefix, events_stream=f"S{event_prefix}",
        training_addr=f"127.0.0.1:{free_port()}")
    async with running_server("dataset", "127.0.0.1:0", make_setup(settings)) as port:
        async with channel(f"127.0.0.1:{port}") as ch:
            stub = dataset_pb2_grpc.DatasetServiceStub(ch)
            f = await upload(stub, SEED)
            status, err = await failure(stub.DeleteFile(pb.DeleteFileRequest(id=f.id)))
    assert (status, err.code, err.param) == (grpc.StatusCode.UNAVAILABLE, "unavailable",
                                             "file_id")
    assert err.message.startswith(f"Cannot tell whether a fine-tuning job uses file '{f.id}', "
                                  "so it is not deleted; try again later")


async def test_same_bytes_uploaded_again_reuse_the_stored_validation(dataset):
    stub, settings = dataset
    await failure(upload(stub, BAD, filename="a.jsonl"))
    status, err = await failure(upload(stub, BAD, filename="b.jsonl"))
    files = (await stub.ListFiles(pb.ListFilesRequest())).data
    assert [f.filename for f in files] == ["b.jsonl", "a.jsonl"]
    assert files[0].status_details == files[1].status_details
    assert err.message.startswith(files[0].status_details)
    assert len(artifacts(settings).list("datasets/")) == 3  # raw, report, summary


async def test_purpose_other_than_fine_tune_is_invalid_argument(dataset):
    stub, _ = dataset
    status, err = await failure(upload(stub, SEED, purpose="assistants"))
    assert (status, err.code, err.param) == (grpc.StatusCode.INVALID_ARGUMENT,
                                             "invalid_argument", "purpose")
    assert err.message == "purpose must be one of fine-tune, not 'assistants'."


async def test_upload_over_the_limit_is_payload_too_large(dataset):
    stub, settings = dataset
    status, err = await failure(upload(stub, b" " * (65 * 1024), chunk=16 * 1024))
    assert (status, err.code, err.param) == (grpc.StatusCode.RESOURCE_EXHAUSTED,
                                             "payload_too_large", "file")
    assert err.message == "The file is larger than the upload limit of 64 KiB (65536 bytes)."
    assert not any(settings.spool_root.iterdir())


async def test_empty_upload_and_missing_header_are_refused(dataset):
    stub, _ = dataset
    status, err = await failure(upload(stub, b""))
    assert (err.code, err.param, err.message) == ("invalid_file", "file", "The file is empty.")

    async def chunk_first():
        yield pb.UploadFileRequest(chunk=SEED)
    status, err = await failure(stub.UploadFile(chunk_first()))
    assert (status, err.code, err.param) == (grpc.StatusCode.INVALID_ARGUMENT,
                                             "invalid_argument", "header")


async def test_unknown_file_is_not_found_naming_file_id(dataset):
    stub, _ = dataset
    for call in (stub.GetFile(pb.GetFileRequest(id="file-nope")),
                 stub.DeleteFile(pb.DeleteFileRequest(id="file-nope")),
                 download(stub, "file-nope")):
        status, err = await failure(call)
        assert (status, err.code, err.param) == (grpc.StatusCode.NOT_FOUND, "not_found",
                                                 "file_id")
        assert err.message == "No file found with id 'file-nope'."


async def test_files_are_listed_newest_first_in_pages(dataset):
    stub, _ = dataset
    line = ('{"id": "%d", "messages": [{"role": "user", "content": "q"}, '
            '{"role": "assistant", "content": "a"}]}\n')
    ids = [(await upload(stub, (line % n).encode(), filename=f"{n}.jsonl")).id for n in range(3)]
    page = await stub.ListFiles(pb.ListFilesRequest(limit=2))
    assert [f.id for f in page.data] == [ids[2], ids[1]] and page.has_more
    rest = await stub.ListFiles(pb.ListFilesRequest(limit=2, after=ids[1]))
    assert [f.id for f in rest.data] == [ids[0]] and not rest.has_more
    assert page.data[0].format == "messages-jsonl"

    status, err = await failure(stub.ListFiles(pb.ListFilesRequest(after="file-nope")))
    assert (status, err.code, err.param) == (grpc.StatusCode.NOT_FOUND, "not_found", "after")
    status, err = await failure(stub.ListFiles(pb.ListFilesRequest(limit=-1)))
    assert (err.code, err.param) == ("invalid_argument", "limit")


async def test_concurrent_uploads_of_the_same_bytes_share_one_copy(dataset):
    stub, settings = dataset
    files = await asyncio.gather(*(upload(stub, SEED, filename=f"{n}.json") for n in range(3)))
    assert len({f.id for f in files}) == 3
    assert len({f.artifact_key for f in files}) == 1
    assert len(artifacts(settings).list("datasets/")) == 4
