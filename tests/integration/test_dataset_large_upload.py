"""Uploads over 20 MB stream through the service to both artifact backends, as JSONL and as
one JSON array, and come back byte for byte."""

import hashlib
import json
import secrets

import pytest
from moto.server import ThreadedMotoServer

from services.common.artifacts import open_store
from services.common.grpc_client import channel
from services.common.grpc_server import running_server
from services.dataset.server import make_setup
from services.dataset.settings import DatasetSettings
from tests.support import free_port
from tuneforge.v1 import dataset_pb2 as pb
from tuneforge.v1 import dataset_pb2_grpc

MB = 1024 * 1024


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop()


def records(n: int) -> list[dict]:
    return [{"id": f"r{i}", "conversations": [
        {"from": "user", "value": f"第{i}个问题：what is {i} squared? " + "请详细解释。" * 20},
        {"from": "assistant", "value": f"{i} squared is {i * i}. " + "This is the answer. " * 30}]}
        for i in range(n)]


def as_jsonl(recs) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs).encode()


def as_array(recs) -> bytes:
    # One line, as json.dump writes it: the reader must stream within a line.
    return json.dumps(recs, ensure_ascii=False).encode()


@pytest.mark.parametrize("backend, container", [("s3", "jsonl"), ("local", "json")])
async def test_upload_over_20_mb_streams_to_the_store_and_downloads_identical(
        backend, container, tmp_path, nats_url, event_prefix, database_url, s3_endpoint):
    recs = records(21_000)
    data = as_jsonl(recs) if container == "jsonl" else as_array(recs)
    assert len(data) > 20 * MB
    settings = DatasetSettings(
        _env_file=None, data_dir=tmp_path, nats_url=nats_url, database_url=database_url,
        events_subject_prefix=event_prefix, events_stream=f"S{event_prefix}",
        artifact_backend=backend, s3_endpoint=s3_endpoint,
        s3_bucket=f"tf-{secrets.token_hex(6)}", s3_access_key="testing",
        s3_secret_key="testing")
    async with running_server("dataset", "127.0.0.1:0", make_setup(settings)) as port:
        async with channel(f"127.0.0.1:{port}") as ch:
            stub = dataset_pb2_grpc.DatasetServiceStub(ch)

            async def requests():
                yield pb.UploadFileRequest(header=pb.UploadFileHeader(
                    filename=f"big.{container}", purpose="fine-tune"))
                for i in range(0, len(data), MB):
                    yield pb.UploadFileRequest(chunk=data[i:i + MB])
            f = await stub.UploadFile(requests())
            back = b"".join([c.data async for c in stub.DownloadFile(
                pb.DownloadFileRequest(id=f.id))])
    assert (f.status, f.num_examples, f.format) == ("processed", 21_000,
                                                   f"conversations-{container}")
    assert hashlib.sha256(back).hexdigest() == hashlib.sha256(data).hexdigest() == f.sha256
    store = open_store(settings)
    assert store.stat(f"datasets/{f.sha256}/raw").size == len(data)
    first = json.loads(next(store.iter_chunks(f.artifact_key, 64 * 1024)).split(b"\n")[0])
    assert first == {"id": "r0", "messages": [
        {"role": "user", "content": recs[0]["conversations"][0]["value"]},
        {"role": "assistant", "content": recs[0]["conversations"][1]["value"]}]}
