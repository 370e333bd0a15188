"""The vLLM engine's subprocess management, proxying and runtime adapters, run against the
vLLM-contract stand-in (vLLM itself needs a GPU host and the `gpu` extra)."""

import asyncio
import shlex
import sys
import time
from contextlib import aclosing

import pytest

from services.inference.engines import EngineSpec, GenerationRequest
from services.inference.engines.transformers_engine import TransformersEngine
from services.inference.engines.vllm_engine import VLLMEngine
from tests.integration.inference_stack import tiny_model_source
from tests.unit.inference_fakes import write_lora_adapter

STAND_IN = f"{shlex.quote(sys.executable)} -m services.inference.engines.vllm_compat"
PROMPT = "Hello there, how are you today?"
pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    return write_lora_adapter(tiny_model_source(), tmp_path_factory.mktemp("lora") / "ft-a",
                              rank=12, seed=0)


@pytest.fixture(scope="module")
async def engines(adapter):
    """The proxied engine and, as the reference, the transformers engine itself."""
    spec = EngineSpec("vllm", tiny_model_source(), device="cpu", max_lora_rank=adapter.rank,
                      max_loras=2, max_concurrent_requests=4)
    proxied = VLLMEngine(spec, STAND_IN, start_timeout_s=120)
    reference = TransformersEngine(EngineSpec("transformers", tiny_model_source(),
                                              device="cpu"))
    await asyncio.gather(proxied.load(), reference.load())
    yield proxied, reference
    await asyncio.gather(proxied.close(), reference.close())


async def tokens(engine, **kw) -> list:
    ids = engine.tokenizer(PROMPT)["input_ids"]
    req = GenerationRequest(ids, **{"max_tokens": 10, "temperature": 0, "logprobs": 2, **kw})
    return [t async for t in engine.generate(req)]


def test_command_line_pins_the_chat_template_enables_lora_and_sizes_the_rank(tmp_path):
    spec = EngineSpec("vllm", tmp_path, chat_template="{{ messages }}", max_lora_rank=12,
                      max_loras=3, max_context=1024, max_concurrent_requests=64, gpus=(2, 3))
    engine = VLLMEngine(spec, "vllm serve-it")

    args = engine.args(8123)

    assert args[:2] == ["vllm", "serve-it"]
    assert "--enable-lora" in args
    valued = [a for a in args[2:] if a != "--enable-lora"]
    flags = dict(zip(valued[::2], valued[1::2]))
    assert (flags["--max-lora-rank"], flags["--max-loras"]) == ("16", "3")  # 12 rounds up
    assert (flags["--max-model-len"], flags["--tensor-parallel-size"]) == ("1024", "2")
    assert (flags["--port"], flags["--served-model-name"], flags["--max-num-seqs"]) == (
        "8123", "base", "64")
    with open(flags["--chat-template"]) as f:
        assert f.read() == "{{ messages }}"


async def test_proxied_generation_equals_the_transformers_engine(engines):
    proxied, reference = engines

    got, expected = await asyncio.gather(tokens(proxied), tokens(reference))

    assert [t.id for t in got] == [t.id for t in expected]
    assert [t.logprob for t in got] == pytest.approx([t.logprob for t in expected], abs=1e-4)
    assert [t.top_logprobs[0][0] for t in got] == [t.top_logprobs[0][0] for t in expected]
    assert proxied.context_length == reference.context_length == 2048


async def test_an_adapter_is_loaded_at_runtime_and_answers_as_it_does_locally(engines, adapter):
    proxied, reference = engines

    got, expected = await asyncio.gather(tokens(proxied, adapter=adapter),
                                         tokens(reference, adapter=adapter))

    assert [t.id for t in got] == [t.id for t in expected]
    assert [t.id for t in got] != [t.id for t in await tokens(proxied)]
    listed = (await proxied._client.get("/v1/models")).json()["data"]
    assert {"id": adapter.name, "object": "model", "parent": "base"} in listed


async def test_a_stop_token_the_server_leaves_out_is_still_yielded_and_counted(engines):
    proxied, _ = engines
    plain = [t.id for t in await tokens(proxied, temperature=1.0, seed=5, max_tokens=12)]
    at = next(i for i, t in enumerate(plain) if i and t not in plain[:i])

    got = await tokens(proxied, temperature=1.0, seed=5, max_tokens=12,
                       stop_token_ids=frozenset({plain[at]}))

    assert [t.id for t in got] == plain[:at + 1]


async def test_closing_the_stream_stops_generation_in_the_server(engines):
    proxied, _ = engines
    ids = proxied.tokenizer(PROMPT)["input_ids"]
    async with aclosing(proxied.generate(GenerationRequest(ids, 1500, temperature=0))) as stream:
        await anext(stream)

    started = time.monotonic()
    assert len(await tokens(proxied, max_tokens=3)) == 3
    assert time.monotonic() - started < 3
    assert proxied.outstanding == 0


async def test_a_server_that_fails_to_start_reports_its_exit_and_output(tmp_path):
    engine = VLLMEngine(EngineSpec("vllm", tiny_model_source(), device="cpu"),
                        f"{shlex.quote(sys.executable)} -c \"print('no GPU here'); exit(3)\" --")

    with pytest.raises(RuntimeError) as err:
        await engine.load()

    assert "exited with code 3" in str(err.value) and "no GPU here" in str(err.value)
