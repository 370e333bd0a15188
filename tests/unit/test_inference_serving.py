"""Chat serving over a fake engine: text deltas, stop handling, finish reasons, usage, limits."""

import pytest

from services.common.chat import tokenize_prompt
from services.common.errors import TuneForgeError
from services.inference.protocol import Chunk, SamplingParams
from services.inference.engines import Target
from services.inference.serving import CompletionServing
from services.inference.engines import SampledToken
from tests.unit.inference_fakes import FakeEngine, byte_tokenizer, encode

HI = [{"role": "user", "content": "hi"}]
PROMPT_TOKENS = len(tokenize_prompt(byte_tokenizer(), HI))


def serving(engine: FakeEngine, default_max_tokens: int = 64,
            max_n: int = 4) -> CompletionServing:
    async def lookup(model: str) -> Target:
        if model != "fake":
            raise TuneForgeError("model_not_found", f"The model '{model}' is not deployed.",
                                 "model")
        return Target(engine)

    return CompletionServing(lookup, default_max_tokens, max_n)


async def complete(engine: FakeEngine, messages=HI, **params) -> list[Chunk]:
    return [c async for c in serving(engine).chat("fake", messages, SamplingParams(**params))]


def text_of(chunks: list[Chunk], index: int = 0) -> str:
    return "".join(c.text for c in chunks if c.index == index and c.usage is None)


def finish_of(chunks: list[Chunk], index: int = 0) -> list[str]:
    return [c.finish_reason for c in chunks if c.index == index and c.finish_reason]


async def test_reply_streams_text_then_finish_stop_then_usage_counting_the_stop_token():
    chunks = await complete(FakeEngine("Hello world<|im_end|>"))

    assert text_of(chunks) == "Hello world"
    assert [c.finish_reason for c in chunks[-2:]] == ["stop", None]
    assert chunks[-1].usage.prompt_tokens == PROMPT_TOKENS
    assert chunks[-1].usage.completion_tokens == len(encode("Hello world")) + 1
    assert chunks[-1].usage.total_tokens == PROMPT_TOKENS + len(encode("Hello world")) + 1


async def test_max_tokens_cuts_the_reply_with_finish_reason_length():
    engine = FakeEngine("abcdefghij<|im_end|>")

    chunks = await complete(engine, max_tokens=4)

    assert text_of(chunks) == "abcd"
    assert finish_of(chunks) == ["length"]
    assert chunks[-1].usage.completion_tokens == 4
    assert engine.requests[0].max_tokens == 4


async def test_stop_string_truncates_before_it_and_ends_generation_early():
    engine = FakeEngine("Hello. STOP and then much more text<|im_end|>")

    chunks = await complete(engine, stop=("STOP", "never"))

    assert text_of(chunks) == "Hello. "
    assert finish_of(chunks) == ["stop"]
    assert chunks[-1].usage.completion_tokens == len(encode("Hello. STOP"))
    assert engine.tokens_yielded == len(encode("Hello. STOP"))
    assert engine.streams_ended == 1


async def test_no_chunk_ever_carries_the_start_of_a_stop_string():
    chunks = await complete(FakeEngine("ab<END>cd"), stop=("<END>",))

    assert [c.text for c in chunks if c.text] == ["a", "b"]


async def test_text_that_only_begins_like_a_stop_string_is_released_at_the_end():
    chunks = await complete(FakeEngine("one <EN two <E"), stop=("<END>",), max_tokens=14)

    assert text_of(chunks) == "one <EN two <E"
    assert finish_of(chunks) == ["length"]


async def test_chinese_streams_in_whole_characters_though_each_spans_three_tokens():
    chunks = await complete(FakeEngine("你好，世界<|im_end|>"))

    assert [c.text for c in chunks if c.text] == ["你", "好", "，", "世", "界"]
    assert chunks[-1].usage.completion_tokens == len("你好，世界".encode()) + 1


async def test_reply_cut_inside_a_character_ends_with_a_replacement_character():
    chunks = await complete(FakeEngine("好世"), max_tokens=4)

    assert text_of(chunks) == "好\ufffd"


async def test_n_choices_stream_by_index_with_seed_plus_index_and_summed_usage():
    engine = FakeEngine(lambda request: f"seed {request.seed}<|im_end|>")

    chunks = await complete(engine, n=3, seed=40)

    assert [text_of(chunks, i) for i in range(3)] == ["seed 40", "seed 41", "seed 42"]
    assert [finish_of(chunks, i) for i in range(3)] == [["stop"]] * 3
    assert chunks[-1].usage.completion_tokens == 3 * (len(encode("seed 40")) + 1)
    assert [c for c in chunks if c.usage] == [chunks[-1]]


async def test_default_max_tokens_is_clipped_to_the_room_left_in_the_context():
    engine = FakeEngine("x" * 100, context_length=PROMPT_TOKENS + 5)

    chunks = await complete(engine)

    assert engine.requests[0].max_tokens == 5
    assert finish_of(chunks) == ["length"]


async def test_prompt_longer_than_the_context_reports_limit_length_and_excess():
    engine = FakeEngine("unused", context_length=PROMPT_TOKENS - 3)

    with pytest.raises(TuneForgeError) as err:
        await complete(engine)

    assert err.value.code == "context_length_exceeded"
    assert err.value.param == "messages"
    assert err.value.message == (
        f"This model's maximum context length is {PROMPT_TOKENS - 3} tokens. However, your "
        f"messages resulted in {PROMPT_TOKENS} tokens, 3 more than the limit. "
        "Please reduce the length of the messages.")
    assert engine.requests == []


async def test_prompt_that_fills_the_context_leaves_no_room_for_a_completion():
    with pytest.raises(TuneForgeError) as err:
        await complete(FakeEngine("unused", context_length=PROMPT_TOKENS))

    assert err.value.code == "context_length_exceeded"
    assert err.value.param == "messages"
    assert "which leaves no room for the completion" in err.value.message


async def test_max_tokens_past_the_context_is_rejected_not_clipped():
    with pytest.raises(TuneForgeError) as err:
        await complete(FakeEngine("unused", context_length=PROMPT_TOKENS + 10), max_tokens=15)

    assert err.value.code == "context_length_exceeded"
    assert err.value.param == "max_tokens"
    assert err.value.message == (
        f"This model's maximum context length is {PROMPT_TOKENS + 10} tokens. However, you "
        f"requested {PROMPT_TOKENS + 15} tokens ({PROMPT_TOKENS} in the messages, 15 in the "
        "completion), 5 more than the limit. Please reduce the length of the messages or "
        "max_tokens.")


@pytest.mark.parametrize(("params", "param", "message"), [
    ({"max_tokens": 0}, "max_tokens", "max_tokens must be at least 1, not 0."),
    ({"temperature": 2.5}, "temperature", "temperature must be between 0 and 2, not 2.5."),
    ({"top_p": 0.0}, "top_p", "top_p must be greater than 0 and at most 1, not 0.0."),
    ({"n": 5}, "n", "n must be between 1 and 4, not 5."),
    ({"n": -1}, "n", "n must be between 1 and 4, not -1."),
])
async def test_sampling_parameter_out_of_range_is_named(params, param, message):
    with pytest.raises(TuneForgeError) as err:
        await complete(FakeEngine("unused"), **params)

    assert (err.value.code, err.value.param, err.value.message) == (
        "invalid_argument", param, message)


async def test_unknown_role_names_the_message_at_fault():
    messages = [{"role": "user", "content": "hi"}, {"role": "robot", "content": "beep"}]

    with pytest.raises(TuneForgeError) as err:
        await complete(FakeEngine("unused"), messages=messages)

    assert err.value.param == "messages[1].role"
    assert err.value.message == (
        "messages[1].role must be one of system, user, assistant, not 'robot'.")


async def test_empty_messages_are_invalid():
    with pytest.raises(TuneForgeError) as err:
        await complete(FakeEngine("unused"), messages=[])

    assert (err.value.code, err.value.param) == ("invalid_argument", "messages")


async def test_model_that_is_not_deployed_fails_before_any_chunk():
    stream = serving(FakeEngine("unused")).chat("other", HI, SamplingParams())

    with pytest.raises(TuneForgeError) as err:
        await anext(stream)

    assert (err.value.code, err.value.param) == ("model_not_found", "model")


async def test_closing_the_stream_stops_every_choice_generating():
    engine = FakeEngine("z" * 1000)
    stream = serving(engine).chat("fake", HI, SamplingParams(n=2, max_tokens=1000))

    first = await anext(stream)
    await stream.aclose()

    assert first.text == "z"
    assert engine.streams_ended == 2
    assert engine.tokens_yielded < 10


async def test_engine_failure_mid_stream_reaches_the_caller():
    class Failing(FakeEngine):
        async def generate(self, request):
            yield SampledToken(encode("a")[0])
            raise TuneForgeError("unavailable", "The deployment was deleted while generating.")

    with pytest.raises(TuneForgeError) as err:
        await complete(Failing(), max_tokens=5)

    assert err.value.code == "unavailable"
