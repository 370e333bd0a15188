"""The fast tokenization path gives exactly the trainer's ids and labels, or is not used."""

import random

import pytest
from transformers import AutoTokenizer

from services.common.chat import IGNORE_INDEX, tokenize_for_training
from services.dataset.fastbpe import FastEncoder, agrees_with
from services.dataset.tokenize import ExampleTokenizer
from services.registry.tiny_model import build_tiny_model

WORDS = ["你好", "模型", "训练数据", "hello", " world", "  ", "\n", "\r\n", "123", "3.14", "🙂",
         "e\u0301", "<|im_end|>", "'ll", "!?", "\t", "Ünïcödé", "中文English混合", "。", ","]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    model_dir = build_tiny_model(tmp_path_factory.getbasetemp() / "dataset-models" / "tiny-qwen2")
    return AutoTokenizer.from_pretrained(model_dir)


def conversations(n: int, seed: int = 0) -> list[list[dict]]:
    rng = random.Random(seed)

    def text():
        return "".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12))).strip() or "x"
    out = []
    for _ in range(n):
        messages = [{"role": "system", "content": text()}] if rng.random() < 0.3 else []
        for _ in range(rng.randint(1, 4)):
            messages.append({"role": "user", "content": text()})
            messages.append({"role": "assistant", "content": text()})
            if rng.random() < 0.2:
                messages[-1]["weight"] = 0
        out.append(messages)
    return out


def test_fast_path_equals_tokenize_for_training_with_truncation(tokenizer):
    fast = ExampleTokenizer(tokenizer)
    assert fast.fast
    convs = conversations(300)
    for max_length in (16, 4096):
        for messages, got in zip(convs, fast.batch(convs, max_length)):
            want = tokenize_for_training(tokenizer, messages, max_length)
            labels = [i if t else IGNORE_INDEX for i, t in zip(got.input_ids, got.trained)]
            assert (got.input_ids, labels) == (want.input_ids, want.labels)
            assert (got.full_length > max_length) == want.truncated


def test_fast_encoder_equals_the_tokenizer_on_mixed_text(tokenizer):
    encoder = FastEncoder.build(tokenizer.backend_tokenizer)
    texts = ["".join(random.Random(n).choices(WORDS, k=30)) for n in range(200)]
    assert agrees_with(encoder, tokenizer.backend_tokenizer, texts)
    assert len(encoder.cache) > len(encoder.special_ids), "the word cache was used"
    assert agrees_with(encoder, tokenizer.backend_tokenizer, texts), "again, from the cache"


def test_batch_of_mostly_new_words_goes_to_the_tokenizer_whole(tokenizer):
    encoder = FastEncoder.build(tokenizer.backend_tokenizer)
    texts = ["".join(random.Random(n).choices("模型训练数据学习你好中文", k=40)) for n in range(50)]
    assert agrees_with(encoder, tokenizer.backend_tokenizer, texts)
    assert encoder.cache == encoder.special_ids


def test_unsupported_tokenizer_gets_no_fast_encoder(tokenizer):
    from tokenizers import Tokenizer, models, pre_tokenizers

    wordpiece = Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    wordpiece.pre_tokenizer = pre_tokenizers.Whitespace()
    assert FastEncoder.build(wordpiece) is None


def test_template_that_is_not_message_by_message_falls_back_to_the_definition(tokenizer):
    odd = AutoTokenizer.from_pretrained(tokenizer.name_or_path)
    # A template that opens with a token once per conversation is not per-message pieces.
    odd.chat_template = ("{% for m in messages %}{% if loop.first %}<|endoftext|>{% endif %}"
                         "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                         "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    slow = ExampleTokenizer(odd)
    assert not slow.fast
    convs = conversations(5)
    for messages, got in zip(convs, slow.batch(convs, 4096)):
        assert got.input_ids == tokenize_for_training(odd, messages, 4096).input_ids
