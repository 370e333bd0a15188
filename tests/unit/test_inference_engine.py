"""The transformers engine on tiny-qwen2: continuous batching, cancellation, LoRA adapters."""

import asyncio
import time
from contextlib import aclosing
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from services.inference.engines import Adapter, EngineSpec, GenerationRequest
from services.inference.engines.transformers_engine import TransformersEngine
from tests.unit.inference_fakes import write_lora_adapter

PROMPTS = ["Hello there, how are you today?", "a", "The quick brown fox jumps over the dog",
           "你好，世界"]


@pytest.fixture(scope="module")
def adapters(tiny_model_dir, tmp_path_factory) -> dict[str, Adapter]:
    """Two random LoRA adapters of tiny-qwen2, of different ranks, that change its output."""
    root = tmp_path_factory.mktemp("adapters")
    return {name: write_lora_adapter(tiny_model_dir, root / name, rank, seed)
            for seed, (name, rank) in enumerate((("ft-a", 4), ("ft-b", 8)))}


@pytest.fixture(scope="module")
async def engine(tiny_model_dir):
    engine = TransformersEngine(EngineSpec("transformers", tiny_model_dir, device="cpu",
                                           max_concurrent_requests=8, max_loras=2))
    await engine.load()
    yield engine
    await engine.close()


def request(engine, text: str, max_tokens: int, **kw) -> GenerationRequest:
    ids = engine.tokenizer(text)["input_ids"]
    return GenerationRequest(ids, max_tokens, **{"temperature": 1.0, "logprobs": 0, **kw})


async def run(engine, req: GenerationRequest, delay: float = 0.0) -> list:
    await asyncio.sleep(delay)
    return [t async for t in engine.generate(req)]


def reference_logprobs(model, prompt: list[int], tokens: list[int]) -> torch.Tensor:
    """Each generated token's log-probability from one plain forward over the whole text."""
    with torch.no_grad():
        logits = model(torch.tensor([prompt + tokens])).logits[0]
    logp = torch.log_softmax(logits[len(prompt) - 1:-1].float(), dim=-1)
    return logp[torch.arange(len(tokens)), torch.tensor(tokens)]


async def test_requests_batched_as_they_arrive_compute_what_each_would_alone(
        engine, tiny_model_dir):
    reqs = [request(engine, p, 24, seed=i) for i, p in enumerate(PROMPTS)]

    # Staggered: each joins a batch already decoding, with a prompt of another length.
    outs = await asyncio.gather(*(run(engine, r, delay=0.02 * i) for i, r in enumerate(reqs)))

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    for req, out in zip(reqs, outs, strict=True):
        tokens = [t.id for t in out]
        expected = reference_logprobs(model, list(req.prompt_token_ids), tokens)
        assert torch.allclose(torch.tensor([t.logprob for t in out]), expected, atol=1e-4)


async def test_greedy_output_equals_transformers_generate(engine, tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    reqs = [request(engine, p, 12, temperature=0) for p in PROMPTS]

    outs = await asyncio.gather(*(run(engine, r) for r in reqs))

    for req, out in zip(reqs, outs, strict=True):
        prompt = list(req.prompt_token_ids)
        expected = model.generate(torch.tensor([prompt]), max_new_tokens=12, do_sample=False,
                                  eos_token_id=None)[0, len(prompt):].tolist()
        assert [t.id for t in out] == expected


async def test_a_short_request_arriving_late_finishes_before_an_earlier_long_one(engine):
    finished: list[str] = []
    long_progress = 0

    async def long():
        nonlocal long_progress
        async for _ in engine.generate(request(engine, PROMPTS[0], 400)):
            long_progress += 1
        finished.append("long")

    async def short():
        while long_progress < 5:  # the long one is decoding already
            await asyncio.sleep(0.005)
        await run(engine, request(engine, PROMPTS[1], 5))
        finished.append("short")

    await asyncio.gather(long(), short())

    assert finished == ["short", "long"]


async def test_closing_a_stream_frees_its_slot_for_the_next_request(tiny_model_dir):
    engine = TransformersEngine(EngineSpec("transformers", tiny_model_dir, device="cpu",
                                           max_concurrent_requests=1))
    await engine.load()
    try:
        async with aclosing(engine.generate(request(engine, PROMPTS[0], 1500))) as tokens:
            await anext(tokens)  # generating, and holding the only slot

        started = time.monotonic()
        out = await asyncio.wait_for(run(engine, request(engine, PROMPTS[1], 3)), timeout=10)

        assert len(out) == 3
        assert time.monotonic() - started < 2
        async with asyncio.timeout(1):  # the engine thread drops the row just after its last token
            while engine.outstanding:
                await asyncio.sleep(0.01)
    finally:
        await engine.close()


async def test_two_adapters_and_the_base_in_one_batch_each_answer_as_alone(
        engine, adapters, tiny_model_dir):
    a, b = adapters["ft-a"], adapters["ft-b"]
    reqs = {name: request(engine, PROMPTS[0], 10, temperature=0, adapter=adapter)
            for name, adapter in (("base", None), ("ft-a", a), ("ft-b", b))}

    outs = dict(zip(reqs, await asyncio.gather(*(run(engine, r) for r in reqs.values())),
                    strict=True))

    tokens = {name: [t.id for t in out] for name, out in outs.items()}
    assert tokens["ft-a"] != tokens["ft-b"]
    prompt = list(reqs["base"].prompt_token_ids)
    for name, adapter in (("ft-a", a), ("ft-b", b)):
        alone = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                                          str(adapter.path)).eval()
        expected = reference_logprobs(alone, prompt, tokens[name])
        assert torch.allclose(torch.tensor([t.logprob for t in outs[name]]), expected,
                              atol=1e-4), name
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert torch.allclose(torch.tensor([t.logprob for t in outs["base"]]),
                          reference_logprobs(base, prompt, tokens["base"]), atol=1e-4)


async def test_adapters_beyond_the_lru_capacity_are_evicted_and_reloaded(
        tiny_model_dir, adapters, tmp_path):
    engine = TransformersEngine(EngineSpec("transformers", tiny_model_dir, device="cpu",
                                           max_loras=1))
    await engine.load()
    try:
        first = await run(engine, request(engine, PROMPTS[2], 6, temperature=0,
                                          adapter=adapters["ft-a"]))
        await run(engine, request(engine, PROMPTS[2], 6, temperature=0,
                                  adapter=adapters["ft-b"]))
        again = await run(engine, request(engine, PROMPTS[2], 6, temperature=0,
                                          adapter=adapters["ft-a"]))

        assert [t.id for t in again] == [t.id for t in first]
        assert engine._adapters.names == ["ft-a"]
    finally:
        await engine.close()


async def test_an_adapter_that_cannot_load_fails_only_its_own_request(engine, tmp_path):
    broken = Adapter("broken", Path(tmp_path / "missing"))

    with pytest.raises(Exception, match="The adapter 'broken' cannot be loaded"):
        await run(engine, request(engine, PROMPTS[0], 3, adapter=broken))
    assert len(await run(engine, request(engine, PROMPTS[0], 3))) == 3


async def test_top_logprobs_are_sorted_and_hold_the_greedy_choice(engine):
    out = await run(engine, request(engine, PROMPTS[0], 5, temperature=0, logprobs=3))

    for token in out:
        assert len(token.top_logprobs) == 3
        assert token.top_logprobs[0] == (token.id, pytest.approx(token.logprob))
        assert [lp for _, lp in token.top_logprobs] == sorted(
            (lp for _, lp in token.top_logprobs), reverse=True)


async def test_top_k_of_one_samples_the_greedy_token(engine):
    greedy = await run(engine, request(engine, PROMPTS[2], 8, temperature=0))
    top1 = await run(engine, request(engine, PROMPTS[2], 8, temperature=1.5, top_k=1, seed=3))

    assert [t.id for t in top1] == [t.id for t in greedy]


async def test_frequency_penalty_stops_the_model_repeating_itself(engine):
    plain = await run(engine, request(engine, PROMPTS[1], 30, temperature=0))
    penalized = await run(engine, request(engine, PROMPTS[1], 30, temperature=0,
                                          frequency_penalty=2.0, presence_penalty=1.0))

    assert len({t.id for t in penalized}) > len({t.id for t in plain})


async def test_generation_ends_at_a_stop_token_which_is_yielded_last(engine):
    plain = await run(engine, request(engine, PROMPTS[3], 12, seed=5))
    ids = [t.id for t in plain]
    at = next(i for i, t in enumerate(ids) if i and t not in ids[:i])  # a token's first showing

    out = await run(engine, request(engine, PROMPTS[3], 12, seed=5,
                                    stop_token_ids=frozenset({ids[at]})))

    assert [t.id for t in out] == ids[:at + 1]
