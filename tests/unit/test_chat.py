"""Chat rendering and label masking, checked against tiny-qwen2's real ChatML tokenizer."""

import pytest
from transformers import AutoTokenizer, GenerationConfig

from services.common.chat import (
    IGNORE_INDEX,
    TokenizedExample,
    render_chat,
    stop_token_ids,
    tokenize_for_training,
    tokenize_prompt,
)

ENDOFTEXT_ID, IM_START_ID, IM_END_ID = 0, 1, 2


def encode(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def expected_example(tokenizer, parts: list[tuple[str, bool]]) -> TokenizedExample:
    """The example built by hand from (text, trained) pieces of the rendered conversation."""
    input_ids, labels = [], []
    for text, trained in parts:
        ids = encode(tokenizer, text)
        input_ids += ids
        labels += ids if trained else [IGNORE_INDEX] * len(ids)
    trained = sum(label != IGNORE_INDEX for label in labels)
    return TokenizedExample(input_ids, labels, trained, truncated=False)


def test_single_turn_trains_exactly_the_reply_and_its_im_end(tiny_tokenizer):
    messages = [{"role": "user", "content": "你是谁"}, {"role": "assistant", "content": "我是小智。"}]

    example = tokenize_for_training(tiny_tokenizer, messages, max_length=256)

    prompt = tokenize_prompt(tiny_tokenizer, messages[:1])
    reply = encode(tiny_tokenizer, "我是小智。") + [IM_END_ID]
    newline = encode(tiny_tokenizer, "\n")
    assert example == TokenizedExample(
        input_ids=prompt + reply + newline,
        labels=[IGNORE_INDEX] * len(prompt) + reply + [IGNORE_INDEX] * len(newline),
        num_trained_tokens=len(reply),
        truncated=False,
    )


def test_system_and_user_turns_are_masked_in_a_multi_turn_conversation(tiny_tokenizer):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "Hello! I am Xiaozhi."},
        {"role": "user", "content": "谁开发了你"},
        {"role": "assistant", "content": "360智汇云。", "weight": 1},
    ]

    example = tokenize_for_training(tiny_tokenizer, messages, max_length=256)

    assert example == expected_example(tiny_tokenizer, [
        ("<|im_start|>system\nBe brief.<|im_end|>\n"
         "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n", False),
        ("Hello! I am Xiaozhi.<|im_end|>", True),
        ("\n<|im_start|>user\n谁开发了你<|im_end|>\n<|im_start|>assistant\n", False),
        ("360智汇云。<|im_end|>", True),
        ("\n", False),
    ])


def test_assistant_turn_with_weight_zero_is_context_only(tiny_tokenizer):
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Wrong answer.", "weight": 0},
        {"role": "user", "content": "你是谁"},
        {"role": "assistant", "content": "我是小智。"},
    ]

    example = tokenize_for_training(tiny_tokenizer, messages, max_length=256)

    assert example == expected_example(tiny_tokenizer, [
        ("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nWrong answer.<|im_end|>\n"
         "<|im_start|>user\n你是谁<|im_end|>\n<|im_start|>assistant\n", False),
        ("我是小智。<|im_end|>", True),
        ("\n", False),
    ])


def test_conversation_whose_only_reply_has_weight_zero_trains_nothing(tiny_tokenizer):
    messages = [{"role": "user", "content": "hi"},
                {"role": "assistant", "content": "Hi!", "weight": 0}]

    example = tokenize_for_training(tiny_tokenizer, messages, max_length=256)

    assert example.num_trained_tokens == 0
    assert set(example.labels) == {IGNORE_INDEX}


def test_truncation_keeps_the_first_max_length_tokens_and_reports_it(tiny_tokenizer):
    messages = [{"role": "user", "content": "who are you"},
                {"role": "assistant", "content": "I am Xiaozhi, an AI assistant."}]
    full = tokenize_for_training(tiny_tokenizer, messages, max_length=256)
    prompt_length = len(tokenize_prompt(tiny_tokenizer, messages[:1]))

    example = tokenize_for_training(tiny_tokenizer, messages, max_length=prompt_length + 2)

    assert example == TokenizedExample(
        input_ids=full.input_ids[: prompt_length + 2],
        labels=full.labels[: prompt_length + 2],
        num_trained_tokens=2,
        truncated=True,
    )


def test_truncation_inside_the_prompt_leaves_no_trained_token(tiny_tokenizer):
    messages = [{"role": "user", "content": "who are you"},
                {"role": "assistant", "content": "Xiaozhi."}]

    example = tokenize_for_training(tiny_tokenizer, messages, max_length=3)

    assert (len(example.input_ids), example.num_trained_tokens, example.truncated) == (3, 0, True)


def test_example_that_fits_exactly_is_not_truncated(tiny_tokenizer):
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"}]
    length = len(tokenize_for_training(tiny_tokenizer, messages, max_length=256).input_ids)

    example = tokenize_for_training(tiny_tokenizer, messages, max_length=length)

    assert (len(example.input_ids), example.truncated) == (length, False)


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "你好"},
         {"role": "assistant", "content": "您好，我是小智，一个由360智汇云开发的 AI 助手，很高兴认识您。"}],
        [{"role": "system", "content": "You are a helpful assistant."},
         {"role": "user", "content": "Who made you? Answer in 2 words."},
         {"role": "assistant", "content": " 360 Zhihuiyun.  "},
         {"role": "user", "content": "and your name's?"},
         {"role": "assistant", "content": "Xiaozhi!\nNice to meet you."}],
        [{"role": "user", "content": "翻译: good morning"},
         {"role": "assistant", "content": "早上好（zǎo shang hǎo）😊", "weight": 0},
         {"role": "user", "content": "再说一遍\n\n谢谢"},
         {"role": "assistant", "content": "早上好！Good morning 123。"}],
    ],
    ids=["chinese", "english-with-system", "mixed-with-weight-0"],
)
def test_tokens_by_segment_equal_tokens_of_the_whole_rendered_text(tiny_tokenizer, messages):
    example = tokenize_for_training(tiny_tokenizer, messages, max_length=1024)

    assert example.input_ids == encode(tiny_tokenizer, render_chat(tiny_tokenizer, messages))


def test_prompt_ends_with_the_assistant_header_and_has_no_default_system_turn(tiny_tokenizer):
    messages = [{"role": "user", "content": "你是谁"}]

    text = render_chat(tiny_tokenizer, messages, add_generation_prompt=True)
    ids = tokenize_prompt(tiny_tokenizer, messages)

    assert text == "<|im_start|>user\n你是谁<|im_end|>\n<|im_start|>assistant\n"
    assert ids == encode(tiny_tokenizer, text)
    assert ids[-3:] == [IM_START_ID, *tiny_tokenizer.convert_tokens_to_ids(["assistant", "Ċ"])]


def test_rendering_without_generation_prompt_ends_after_the_last_turn(tiny_tokenizer):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]

    assert render_chat(tiny_tokenizer, messages) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
    )


def test_stop_ids_join_generation_config_eos_ids_and_im_end(
    tiny_tokenizer, tiny_model_dir, tmp_path
):
    assert stop_token_ids(tiny_tokenizer, tiny_model_dir) == [ENDOFTEXT_ID, IM_END_ID]
    assert stop_token_ids(tiny_tokenizer, GenerationConfig(eos_token_id=7)) == [IM_END_ID, 7]
    assert stop_token_ids(tiny_tokenizer) == [IM_END_ID]
    assert stop_token_ids(tiny_tokenizer, tmp_path) == [IM_END_ID]


def test_template_without_stable_prefixes_is_rejected(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    # Starts with the message count, so a shorter conversation is no prefix of a longer one.
    tokenizer.chat_template = (
        "{{ messages | length }}{% for m in messages %}{{ m.content }}{% endfor %}"
    )
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"}]

    with pytest.raises(ValueError, match="assistant turn 1 cannot be located"):
        tokenize_for_training(tokenizer, messages, max_length=64)
