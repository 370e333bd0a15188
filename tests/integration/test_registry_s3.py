"""The registry on S3 (moto's server): registering from an s3:// URI, downloading by a presigned
URL an archive that loads in transformers."""

import io
import secrets
import tarfile
import urllib.request

import grpc
import pytest
import torch
from minio import Minio
from moto.server import ThreadedMotoServer
from transformers import AutoModelForCausalLM, AutoTokenizer

from services.common.chat import tokenize_prompt
from services.registry.tiny_model import build_tiny_model
from tests.integration.registry_stack import gateway, registry, registry_settings, rpc_error
from tests.support import free_port
from tuneforge.v1 import registry_pb2 as pb


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("base") / "tiny-qwen2")


@pytest.fixture
async def reg(tmp_path, s3_endpoint, nats_url, event_prefix, database_url):
    settings = registry_settings(
        tmp_path, nats_url, event_prefix, database_url, artifact_backend="s3",
        s3_endpoint=s3_endpoint, s3_bucket=f"tf-{secrets.token_hex(6)}",
        s3_access_key="testing", s3_secret_key="testing")
    async with registry(settings) as r:
        yield r


def upload(endpoint: str, folder, bucket: str, prefix: str) -> None:
    """Put a model folder in a bucket of its own, as a user's S3 or MinIO would hold it."""
    client = Minio(endpoint, access_key="testing", secret_key="testing", secure=False)
    client.make_bucket(bucket)
    for path in folder.iterdir():
        client.fput_object(bucket, f"{prefix}/{path.name}", str(path))


def last_logits(model_dir, messages) -> torch.Tensor:
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    with torch.no_grad():
        return model(torch.tensor([tokenize_prompt(tokenizer, messages)])).logits[0, -1]


async def test_model_registered_from_s3_downloads_by_presigned_url_and_loads(
        reg, s3_endpoint, tiny_dir, tmp_path):
    bucket = f"src-{secrets.token_hex(6)}"
    upload(s3_endpoint, tiny_dir, bucket, "team/tiny-qwen2")

    m = await reg.stub.RegisterModel(pb.RegisterModelRequest(
        id="team/tiny-qwen2", source=f"s3://{bucket}/team/tiny-qwen2"))
    assert (m.status, m.artifact_prefix, m.architecture) == (
        "ready", "models/team/tiny-qwen2", "Qwen2ForCausalLM")

    chunks = [c async for c in reg.stub.ExportModel(pb.ExportModelRequest(id=m.id))]
    assert len(chunks) == 1  # the header alone: the archive is fetched from the URL
    header = chunks[0].header
    assert header.filename == "team-tiny-qwen2.tar" and header.url.startswith("http://")
    with urllib.request.urlopen(header.url, timeout=30) as resp:
        data = resp.read()
    assert len(data) == header.size_bytes
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(tmp_path / "download", filter="data")
    messages = [{"role": "user", "content": "你是谁"}]
    torch.testing.assert_close(last_logits(tmp_path / "download" / "team-tiny-qwen2", messages),
                               last_logits(tiny_dir, messages))

    async with gateway(reg) as client:  # the gateway sends clients to the same archive
        r = await client.get(f"/v1/models/{m.id}/download")
    assert r.status_code == 307
    assert r.headers["location"].split("?")[0] == header.url.split("?")[0]


async def test_s3_source_that_does_not_exist_is_refused_naming_source(reg, s3_endpoint):
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await reg.stub.RegisterModel(pb.RegisterModelRequest(
            id="ghost", source="s3://no-such-bucket-here/models/x"))
    code, param, message = rpc_error(e.value)
    assert (code, param) == ("invalid_argument", "source")
    assert message.startswith(f"source 's3://no-such-bucket-here/models/x' cannot be read from "
                              f"{s3_endpoint}: NoSuchBucket")
