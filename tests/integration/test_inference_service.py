"""The inference service with the real transformers engine on tiny-qwen2, over gRPC."""

import asyncio
import json
import shutil
import time
from pathlib import Path

import grpc
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from services.common.chat import tokenize_prompt
from services.registry.tiny_model import build_tiny_model
from tests.integration.inference_stack import (
    build_scripted_model,
    chat,
    chat_request,
    finishes,
    rpc_error,
    services,
    texts,
    wait_for_status,
)
from tuneforge.v1 import inference_pb2 as pb
from tuneforge.v1 import registry_pb2

BASE, CHINESE = "tiny-qwen2", "tiny-qwen2-zh"
CHINESE_REPLY = "你好，世界"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    """tiny-qwen2 and its scripted Chinese-speaking copy, as the registry's base models."""
    root = tmp_path_factory.mktemp("inference-models")
    base = build_tiny_model(root / BASE)
    build_scripted_model(base, root / CHINESE, CHINESE_REPLY)
    return root


@pytest.fixture(scope="module")
def tokenizer(models_dir):
    return AutoTokenizer.from_pretrained(models_dir / BASE)


@pytest.fixture
async def stack(tmp_path, nats_url, event_prefix, database_url, models_dir):
    async with services(tmp_path, nats_url, event_prefix, database_url, models_dir) as s:
        yield s


async def deployed(stack, model: str = BASE) -> pb.Deployment:
    d = await stack.inference.CreateDeployment(pb.CreateDeploymentRequest(model=model))
    return await wait_for_status(stack.inference, d.id, "ready", "failed")


async def test_tiny_model_deploys_and_greedy_stream_matches_transformers(stack, tokenizer,
                                                                        models_dir):
    assert (await deployed(stack)).status == "ready"

    chunks = await chat(stack.inference, BASE, "Who are you?", max_tokens=12, temperature=0)

    prompt = tokenize_prompt(tokenizer, [{"role": "user", "content": "Who are you?"}])
    model = AutoModelForCausalLM.from_pretrained(models_dir / BASE)
    expected = model.generate(torch.tensor([prompt]), max_new_tokens=12, do_sample=False,
                              eos_token_id=None)[0, len(prompt):].tolist()
    assert texts(chunks) == {0: tokenizer.decode(expected, skip_special_tokens=True)}
    assert [c.finish_reason for c in chunks[-2:]] == ["length", ""]
    assert chunks[-1].usage == pb.Usage(prompt_tokens=len(prompt), completion_tokens=12,
                                        total_tokens=len(prompt) + 12)
    assert all(not c.HasField("usage") for c in chunks[:-1])


async def test_same_seed_repeats_sampled_text_and_another_seed_changes_it(stack):
    await deployed(stack)
    params = dict(max_tokens=10, temperature=1.0, top_p=0.95)

    first = texts(await chat(stack.inference, BASE, seed=1234, **params))
    again = texts(await chat(stack.inference, BASE, seed=1234, **params))
    other = texts(await chat(stack.inference, BASE, seed=4321, **params))

    assert first == again
    assert first != other


async def test_n_choices_each_stream_and_finish_with_usage_over_all(stack):
    await deployed(stack)

    chunks = await chat(stack.inference, BASE, n=3, max_tokens=5, temperature=0.8, seed=7)

    assert finishes(chunks) == {0: "length", 1: "length", 2: "length"}
    assert len(set(texts(chunks).values())) == 3  # seeds 7, 8, 9
    assert chunks[-1].usage.completion_tokens == 15


async def test_chinese_reply_streams_whole_characters_and_ends_at_im_end(stack):
    await deployed(stack, CHINESE)

    chunks = await chat(stack.inference, CHINESE, "说点什么", temperature=0)

    assert texts(chunks) == {0: CHINESE_REPLY}
    assert all("\ufffd" not in c.text for c in chunks)
    assert finishes(chunks) == {0: "stop"}
    assert chunks[-1].usage.completion_tokens == 8  # 7 tokens of text and <|im_end|>


async def test_stop_string_cuts_a_real_reply_before_it(stack):
    await deployed(stack, CHINESE)

    chunks = await chat(stack.inference, CHINESE, temperature=0, stop=["世"])

    assert texts(chunks) == {0: "你好，"}
    assert finishes(chunks) == {0: "stop"}
    assert chunks[-1].usage.completion_tokens == 4  # 世 takes two tokens


async def test_prompt_over_the_context_is_context_length_exceeded(stack, tokenizer):
    await deployed(stack)
    content = "TuneForge " * 1200
    prompt_tokens = len(tokenize_prompt(tokenizer, [{"role": "user", "content": content}]))
    assert prompt_tokens > 2048

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await chat(stack.inference, BASE, content)

    assert rpc_error(err.value) == (
        grpc.StatusCode.INVALID_ARGUMENT, "context_length_exceeded", "messages",
        f"This model's maximum context length is 2048 tokens. However, your messages resulted "
        f"in {prompt_tokens} tokens, {prompt_tokens - 2048} more than the limit. "
        "Please reduce the length of the messages.")


async def test_cancelled_call_frees_the_engine_for_the_next_request(stack):
    await deployed(stack)
    # Without cancellation this would hold the engine for well over a minute.
    call = stack.inference.ChatCompletion(chat_request(BASE, max_tokens=2000, temperature=0))
    first = await call.read()
    assert first.text or first.finish_reason
    call.cancel()

    started = time.monotonic()
    chunks = await asyncio.wait_for(chat(stack.inference, BASE, max_tokens=3), timeout=30)

    assert time.monotonic() - started < 10
    assert chunks[-1].usage.completion_tokens <= 3


async def test_deleting_the_deployment_unloads_the_model(stack):
    d = await deployed(stack)

    deleted = await stack.inference.DeleteDeployment(pb.DeleteDeploymentRequest(id=d.id))

    assert deleted.status == "deleted"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await chat(stack.inference, BASE)
    assert rpc_error(err.value) == (grpc.StatusCode.NOT_FOUND, "model_not_found", "model",
                                    "The model 'tiny-qwen2' does not exist or is not deployed.")


async def test_model_whose_weights_do_not_fit_its_config_fails_with_the_reason(stack):
    prefix = "models/misshapen"
    folder = stack.settings.artifact_root / prefix
    shutil.copytree(stack.settings.artifact_root / "models" / BASE, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "intermediate_size": 64}))
    await stack.registry.RegisterModel(registry_pb2.RegisterModelRequest(
        id="misshapen", kind="base", artifact_prefix=prefix))

    d = await deployed(stack, "misshapen")

    assert d.status == "failed"
    assert (d.error.code, d.error.param) == ("internal", "model")
    assert d.error.message.startswith("Loading the model 'misshapen' failed: ")
