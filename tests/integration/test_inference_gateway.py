"""The OpenAI API through the gateway, with the official SDK, on real tiny-qwen2 engines."""

import asyncio
import json
import time
from pathlib import Path

import httpx
import nats
import openai
import pytest
from transformers import AutoTokenizer

from services.common.chat import tokenize_prompt
from services.inference.heartbeat import heartbeat_subject
from services.registry.tiny_model import build_tiny_model
from tests.integration.inference_stack import (
    build_scripted_model,
    gateway,
    services,
    wait_for_status,
)
from tuneforge.v1 import inference_pb2 as pb

BASE, SCRIPTED = "tiny-qwen2", "tiny-qwen2-zh"
REPLY = "你好，世界"
HI = [{"role": "user", "content": "hi"}]
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gateway-models")
    build_scripted_model(build_tiny_model(root / BASE), root / SCRIPTED, REPLY)
    return root


@pytest.fixture(scope="module")
async def api(tmp_path_factory, nats_url, models_dir):
    """Registry, one inference replica and the gateway; the base model takes one request at a
    time (so a slot still held would show), the scripted one batches."""
    root = tmp_path_factory.mktemp("gateway-stack")
    async with services(root, nats_url, f"gw{time.time_ns()}", f"sqlite:///{root / 'db'}",
                        models_dir) as stack:
        for model, slots in ((BASE, 1), (SCRIPTED, 0)):
            d = await stack.inference.CreateDeployment(pb.CreateDeploymentRequest(
                model=model, max_concurrent_requests=slots))
            assert (await wait_for_status(stack.inference, d.id, "ready", "failed")).status \
                == "ready"
        async with gateway(stack.settings) as url:
            stack.url = url
            yield stack


@pytest.fixture
def client(api) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{api.url}/v1", api_key="unused", max_retries=0)


@pytest.fixture(scope="module")
def tokenizer(models_dir):
    return AutoTokenizer.from_pretrained(models_dir / BASE)


async def test_chat_returns_the_reply_with_finish_stop_and_usage_from_the_tokenizer(
        client, tokenizer):
    resp = await client.chat.completions.create(model=SCRIPTED, messages=HI, temperature=0)

    assert resp.object == "chat.completion" and resp.model == SCRIPTED
    assert resp.choices[0].message.content == REPLY
    assert resp.choices[0].finish_reason == "stop"
    prompt_tokens = len(tokenize_prompt(tokenizer, HI))
    completion_tokens = len(tokenizer(REPLY, add_special_tokens=False)["input_ids"]) + 1
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) \
        == (prompt_tokens, completion_tokens, prompt_tokens + completion_tokens)


async def test_stream_sends_role_deltas_finish_then_usage_when_asked(client):
    full = await client.chat.completions.create(model=SCRIPTED, messages=HI, temperature=0)
    stream = await client.chat.completions.create(
        model=SCRIPTED, messages=HI, temperature=0, stream=True,
        stream_options={"include_usage": True})
    chunks = [c async for c in stream]

    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == REPLY
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage == full.usage
    assert all(c.usage is None for c in chunks[:-1])


async def test_stream_without_include_usage_has_no_usage_chunk(client):
    stream = await client.chat.completions.create(model=SCRIPTED, messages=HI, temperature=0,
                                                  stream=True)
    chunks = [c async for c in stream]

    assert all(c.choices and c.usage is None for c in chunks)


async def test_n_choices_each_finish_and_usage_counts_them_all(client):
    resp = await client.chat.completions.create(model=SCRIPTED, messages=HI, n=3, temperature=0)

    assert [c.index for c in resp.choices] == [0, 1, 2]
    assert {c.message.content for c in resp.choices} == {REPLY}
    assert resp.usage.completion_tokens == 3 * 8


async def test_stop_string_cuts_before_it_with_finish_stop(client):
    resp = await client.chat.completions.create(model=SCRIPTED, messages=HI, temperature=0,
                                                stop=["世"])

    assert resp.choices[0].message.content == "你好，"
    assert resp.choices[0].finish_reason == "stop"


async def test_max_tokens_cuts_with_finish_length(client):
    resp = await client.chat.completions.create(model=SCRIPTED, messages=HI, temperature=0,
                                                max_completion_tokens=3)

    assert resp.choices[0].finish_reason == "length"
    assert resp.usage.completion_tokens == 3


async def test_logprobs_come_per_token_with_the_top_alternatives(client):
    resp = await client.chat.completions.create(model=SCRIPTED, messages=HI, temperature=0,
                                                logprobs=True, top_logprobs=2)

    content = resp.choices[0].logprobs.content
    # Each token is part of a character; their bytes join into the reply.
    assert b"".join(bytes(t.bytes) for t in content).decode() == REPLY
    assert all(t.logprob <= 0 and len(t.top_logprobs) == 2 for t in content)
    assert all(t.top_logprobs[0].token == t.token for t in content)  # greedy took the top one


async def test_sampling_parameters_are_accepted_and_seeded_sampling_repeats(client):
    # top_k is vLLM's extension; the SDK sends it through extra_body.
    params = dict(model=BASE, messages=HI, max_tokens=8, temperature=1.0, top_p=0.9,
                  presence_penalty=0.5, frequency_penalty=0.5, seed=11,
                  extra_body={"top_k": 20})

    first = await client.chat.completions.create(**params)
    again = await client.chat.completions.create(**params)

    assert first.choices[0].message.content == again.choices[0].message.content
    assert first.usage.completion_tokens == 8


async def test_unknown_model_is_404_model_not_found(client):
    with pytest.raises(openai.NotFoundError) as err:
        await client.chat.completions.create(model="no-such-model", messages=HI)

    assert err.value.code == "model_not_found"
    assert err.value.body["message"] == \
        "The model 'no-such-model' does not exist or is not deployed."


async def test_prompt_over_the_context_is_400_saying_by_how_many_tokens(client, tokenizer):
    messages = [{"role": "user", "content": "TuneForge " * 1200}]
    prompt_tokens = len(tokenize_prompt(tokenizer, messages))

    with pytest.raises(openai.BadRequestError) as err:
        await client.chat.completions.create(model=SCRIPTED, messages=messages)

    assert err.value.code == "context_length_exceeded"
    assert f"{prompt_tokens - 2048} more than the limit" in err.value.message


@pytest.mark.parametrize(("params", "param"), [
    ({"temperature": 3}, "temperature"),
    ({"top_logprobs": 30, "logprobs": True}, "top_logprobs"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
])
async def test_bad_parameter_is_400_naming_it(client, params, param):
    with pytest.raises(openai.BadRequestError) as err:
        await client.chat.completions.create(model=SCRIPTED, messages=HI, **params)

    assert err.value.param == param


async def test_completions_continue_text_and_echo_the_prompt(client):
    resp = await client.completions.create(model=BASE, prompt="Hello", max_tokens=5,
                                           temperature=0, echo=True, logprobs=1)

    choice = resp.choices[0]
    assert resp.object == "text_completion"
    assert choice.text.startswith("Hello") and choice.finish_reason == "length"
    assert len(choice.logprobs.tokens) == 5 and len(choice.logprobs.top_logprobs) == 5
    assert resp.usage.completion_tokens == 5


async def test_completions_take_token_ids_and_stream_with_usage(client, tokenizer):
    ids = tokenizer("Once upon a time")["input_ids"]
    full = await client.completions.create(model=BASE, prompt=ids, max_tokens=6, temperature=0)
    stream = await client.completions.create(model=BASE, prompt=ids, max_tokens=6,
                                             temperature=0, stream=True,
                                             stream_options={"include_usage": True})
    chunks = [c async for c in stream]

    assert "".join(c.choices[0].text for c in chunks if c.choices) == full.choices[0].text
    assert chunks[-1].usage.prompt_tokens == len(ids)
    assert chunks[-1].usage.completion_tokens == 6


async def test_the_seeds_curl_call_works_verbatim(api):
    body = '{ "model": "%s", "messages": [{"role": "user", "content": "你是谁"}] }' % SCRIPTED
    async with httpx.AsyncClient(timeout=60) as http:
        r = await http.post(f"{api.url}/v1/chat/completions", content=body.encode(),
                            headers={"Content-Type": "application/json"})

    assert r.status_code == 200, r.text
    data = r.json()
    assert data["object"] == "chat.completion"
    assert data["choices"][0]["message"] == {"role": "assistant", "content": REPLY}
    assert set(data["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


async def test_a_client_that_disconnects_frees_its_slot_at_once(api):
    nc = await nats.connect(api.settings.nats_url)
    beats: list[pb.ReplicaHeartbeat] = []

    async def record(msg):
        beats.append(pb.ReplicaHeartbeat.FromString(msg.data))

    await nc.subscribe(heartbeat_subject(api.settings.events_subject_prefix), cb=record)
    body = {"model": BASE, "messages": HI, "max_tokens": 2000, "temperature": 0, "stream": True}
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            async with http.stream("POST", f"{api.url}/v1/chat/completions", json=body) as r:
                async for line in r.aiter_lines():
                    if line.startswith("data:") and "content" in line:
                        break  # generating; now hang up
            # The base deployment has one slot: it is free again only if generation stopped.
            started = time.monotonic()
            r = await http.post(f"{api.url}/v1/chat/completions",
                                json={"model": BASE, "messages": HI, "max_tokens": 2})
            assert r.status_code == 200
            assert time.monotonic() - started < 5
        beats.clear()
        async with asyncio.timeout(5):
            while not beats:
                await asyncio.sleep(0.05)
        assert beats[-1].outstanding == 0
    finally:
        await nc.drain()


async def test_a_non_streaming_client_that_gives_up_frees_its_slot_at_once(api):
    body = {"model": BASE, "messages": HI, "max_tokens": 2000, "temperature": 0}
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post(f"{api.url}/v1/chat/completions", json=body, timeout=0.5)

        started = time.monotonic()
        r = await http.post(f"{api.url}/v1/chat/completions", timeout=30,
                            json={"model": BASE, "messages": HI, "max_tokens": 2})

    assert r.status_code == 200
    assert time.monotonic() - started < 5


async def test_errors_after_validation_use_the_openai_envelope(api):
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(f"{api.url}/v1/completions",
                            json={"model": BASE, "prompt": ["one", "two"]})

    assert r.status_code == 400
    assert r.json()["error"] == {
        "message": "prompt holds 2 prompts; this server takes one prompt per request. "
                   "Send one request per prompt.",
        "type": "invalid_request_error", "param": "prompt", "code": "invalid_argument"}
    assert json.loads(r.text)
