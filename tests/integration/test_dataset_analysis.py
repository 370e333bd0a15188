"""Statistics, preview and the tokenized cache, over real gRPC with the tiny Qwen2 model's own
tokenizer and chat template (in the artifact store, found through a registry's GetModel)."""

import json

import grpc
import numpy as np
import pytest
from transformers import AutoTokenizer

from services.common.artifacts import LocalArtifactStore
from services.common.chat import IGNORE_INDEX, tokenize_for_training
from services.common.errors import TuneForgeError
from services.common.grpc_client import channel
from services.common.grpc_server import running_server
from services.dataset.server import make_setup
from services.dataset.settings import DatasetSettings
from services.dataset.split import split_indices
from services.dataset.tokenized import TokenizedDataset
from services.registry.tiny_model import build_tiny_model
from tuneforge.v1 import dataset_pb2 as pb
from tuneforge.v1 import dataset_pb2_grpc, registry_pb2, registry_pb2_grpc

RECORDS = [
    {"id": "a", "messages": [{"role": "user", "content": "你好"},
                             {"role": "assistant", "content": "您好，我是小智。"}]},
    {"id": "b", "messages": [{"role": "system", "content": "Be brief."},
                             {"role": "user", "content": "2+2?"},
                             {"role": "assistant", "content": "5", "weight": 0},
                             {"role": "user", "content": "Again?"},
                             {"role": "assistant", "content": "4"}]},
    {"id": "c", "messages": [{"role": "user", "content": "Tell me a long story " * 8},
                             {"role": "assistant", "content": "Once upon a time " * 12}]},
]
DATA = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS).encode()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.getbasetemp() / "dataset-models" / "tiny-qwen2")


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    return AutoTokenizer.from_pretrained(model_dir)


class Registry(registry_pb2_grpc.RegistryServiceServicer):
    """GetModel of the registry service: tiny-qwen2 with its files under models/tiny-qwen2."""

    async def GetModel(self, request, context):
        if request.id != "tiny-qwen2":
            await context.abort(grpc.StatusCode.NOT_FOUND,
                                f"The model '{request.id}' does not exist.",
                                (("tf-error-code", "model_not_found"),))
        return registry_pb2.Model(id="tiny-qwen2", artifact_prefix="models/tiny-qwen2",
                                  context_length=2048)


async def registry_setup(stack, server):
    registry_pb2_grpc.add_RegistryServiceServicer_to_server(Registry(), server)


@pytest.fixture
async def stack(tmp_path, nats_url, event_prefix, database_url, model_dir):
    LocalArtifactStore(tmp_path / "artifacts").put_dir("models/tiny-qwen2", model_dir)
    async with running_server("registry", "127.0.0.1:0", registry_setup) as rport:
        settings = DatasetSettings(
            _env_file=None, data_dir=tmp_path, nats_url=nats_url, database_url=database_url,
            events_subject_prefix=event_prefix, events_stream=f"S{event_prefix}",
            registry_addr=f"127.0.0.1:{rport}")
        async with running_server("dataset", "127.0.0.1:0", make_setup(settings)) as port:
            async with channel(f"127.0.0.1:{port}") as ch:
                stub = dataset_pb2_grpc.DatasetServiceStub(ch)
                yield stub, settings, await upload(stub, DATA)


async def upload(stub, data: bytes) -> pb.File:
    async def requests():
        yield pb.UploadFileRequest(header=pb.UploadFileHeader(filename="d.jsonl",
                                                              purpose="fine-tune"))
        yield pb.UploadFileRequest(chunk=data)
    return await stub.UploadFile(requests())


def expected(tokenizer, max_length):
    """The definition: what the trainer's own tokenization gives each record."""
    return [tokenize_for_training(tokenizer, r["messages"], max_length) for r in RECORDS]


async def test_stats_match_the_trainers_tokenization_exactly(stack, tokenizer):
    stub, _, f = stack
    full = expected(tokenizer, 1 << 20)
    lengths = [len(e.input_ids) for e in full]
    cut = 150
    assert sorted(lengths)[1] < cut < max(lengths), "one example must be truncated"
    truncated = expected(tokenizer, cut)
    assert 0 < truncated[2].num_trained_tokens < full[2].num_trained_tokens

    s = await stub.GetFileStats(pb.GetFileStatsRequest(id=f.id, model="tiny-qwen2",
                                                       model_max_length=cut))
    assert (s.num_examples, s.num_turns, s.model_max_length) == (3, 9, cut)
    assert s.num_characters == sum(len(m["content"]) for r in RECORDS for m in r["messages"])
    assert s.total_tokens == sum(lengths)
    d = s.tokens_per_example
    assert (d.min, d.max, d.p50) == (min(lengths), max(lengths), sorted(lengths)[1])
    assert d.mean == pytest.approx(sum(lengths) / 3)
    assert d.p95 == pytest.approx(np.percentile(lengths, 95))
    assert s.assistant_tokens == sum(e.num_trained_tokens for e in truncated)
    assert s.num_truncated == 1 and s.num_without_trained_tokens == 0
    assert s.tokens_per_epoch == sum(len(e.input_ids) for e in truncated)
    assert s.suggested_epochs == 25  # 3 examples: ceil(100 / 3) capped at 25
    assert s.estimated_trained_tokens == 25 * s.tokens_per_epoch
    assert [w.text for w in s.warnings] == [
        f'example 3 (id "c"): {lengths[2]} tokens, over model_max_length {cut}; '
        "it will be truncated"]


async def test_tokenized_cache_is_built_once_and_holds_ids_and_labels(stack, tokenizer):
    stub, settings, f = stack
    request = pb.GetTokenizedFileRequest(id=f.id, model="tiny-qwen2", max_length=64)
    first = await stub.GetTokenizedFile(request)
    again = await stub.GetTokenizedFile(request)
    assert (first.built, again.built) == (True, False)
    assert first.artifact_prefix == again.artifact_prefix
    assert first.artifact_prefix.startswith(f"datasets/{f.sha256}/tokenized/")
    assert first.artifact_prefix.endswith("-64")

    folder = settings.data_dir / "copy"
    LocalArtifactStore(settings.artifact_root).get_dir(first.artifact_prefix, folder)
    data = TokenizedDataset.open(folder)
    assert len(data) == 3 and data.meta["num_tokens"] == first.num_tokens
    for i, want in enumerate(expected(tokenizer, 64)):
        got = data.example(i)
        assert (got.input_ids, got.labels) == (want.input_ids, want.labels)
        assert got.num_trained_tokens == want.num_trained_tokens
    train, valid = split_indices(data.arrays["record_keys"], 0.34, seed=7)
    assert len(valid) == 1 and sorted([*train, *valid]) == [0, 1, 2]


async def test_preview_marks_exactly_the_tokens_that_carry_loss(stack, tokenizer):
    stub, _, f = stack
    p = await stub.PreviewFile(pb.PreviewFileRequest(id=f.id, model="tiny-qwen2", n=2))
    assert p.model_max_length == 2048 and [e.id for e in p.data] == ["a", "b"]
    for example, want in zip(p.data, expected(tokenizer, 2048)):
        ids = [t for s in example.segments for t in s.token_ids]
        trained = [t for s in example.segments if s.trained for t in s.token_ids]
        assert ids == want.input_ids
        assert trained == [label for label in want.labels if label != IGNORE_INDEX]
    second = p.data[1].segments
    assert [s.trained for s in second] == [False, True, False]
    assert second[1].text == "4<|im_end|>"
    assert "5<|im_end|>" in second[0].text, "a weight-0 reply is context, not trained"


async def failure(call) -> TuneForgeError:
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await call
    return TuneForgeError.from_rpc_error(e.value)


async def test_unknown_model_invalid_file_and_bad_n_are_refused_clearly(stack):
    stub, _, f = stack
    err = await failure(stub.GetFileStats(pb.GetFileStatsRequest(id=f.id, model="nope")))
    assert (err.code, err.param, err.message) == ("model_not_found", "model",
                                                  "The model 'nope' does not exist.")
    err = await failure(stub.PreviewFile(pb.PreviewFileRequest(id=f.id, model="tiny-qwen2",
                                                               n=50)))
    assert (err.code, err.param, err.message) == ("invalid_argument", "n",
                                                  "n must be between 1 and 20, not 50.")
    with pytest.raises(grpc.aio.AioRpcError):
        await upload(stub, b'{"messages": 1}\n')
    (bad, _) = (await stub.ListFiles(pb.ListFilesRequest())).data
    err = await failure(stub.GetFileStats(pb.GetFileStatsRequest(id=bad.id, model="tiny-qwen2")))
    assert (err.code, err.param) == ("invalid_file", "file_id")
    assert err.message.startswith(f"File '{bad.id}' has status error (1 errors)")
