"""The fast tokenization path gives exactly the trainer's ids and labels, or is not used."""

import json
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


def conversations(n: int, seed: int = 0, words=WORDS) -> list[list[dict]]:
    rng = random.Random(seed)

    def text():
        return "".join(rng.choice(words) for _ in range(rng.randint(1, 12))).strip() or "x"
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


# Text outside NFC (e + U+0301) sends its whole batch to per-text encoding; without it, the
# batch is encoded in one tiktoken call.
@pytest.mark.parametrize("words", [WORDS, [w for w in WORDS if w != "e\u0301"]],
                         ids=["per-text", "one-call"])
def test_fast_path_equals_tokenize_for_training_with_truncation(tokenizer, words):
    fast = ExampleTokenizer(tokenizer)
    assert fast.fast
    convs = conversations(300, words=words)
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


def test_fast_encoder_equals_the_tokenizer_on_long_chinese_runs(tokenizer):
    encoder = FastEncoder.build(tokenizer.backend_tokenizer)
    texts = ["".join(random.Random(n).choices("模型训练数据学习你好中文", k=400)) for n in range(50)]
    assert agrees_with(encoder, tokenizer.backend_tokenizer, texts)


def test_fast_encoder_classifies_every_character_as_the_tokenizer_does(tokenizer):
    # Each character as a letter, a number, a space or a mark next to each kind of neighbour:
    # the two regex engines must agree on every Unicode class the split pattern uses.
    chars = [chr(c) for c in range(0x20, 0x30000) if not 0xD800 <= c < 0xE000]
    snippets = [f"a{c} {c}{c}1{c}\n{c}" for c in chars]
    texts = [" ".join(snippets[i:i + 64]) for i in range(0, len(snippets), 64)]
    encoder = FastEncoder.build(tokenizer.backend_tokenizer)
    assert agrees_with(encoder, tokenizer.backend_tokenizer, texts)


def test_text_outside_nfc_is_normalised_between_added_tokens(tokenizer):
    # ">" + U+0338 composes to "≯" under NFC, so normalising the whole text would eat the
    # end of "<|im_end|>"; the tokenizer normalises only the text around added tokens.
    texts = ["<|im_end|>\u0338 x", "e\u0301<|im_start|>\u0338", "Ångström e\u0301 ok"]
    encoder = FastEncoder.build(tokenizer.backend_tokenizer)
    assert agrees_with(encoder, tokenizer.backend_tokenizer, texts)


def _byte_level_bpe(merges: list[tuple[str, str]]):
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    bpe = Tokenizer(models.BPE(vocab, merges))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    return bpe


def test_merges_that_tiktoken_would_apply_differently_get_no_fast_encoder():
    # tokenizers splits "abc" as ab + c and stops (only a + bc is listed); tiktoken joins any
    # two parts that make a token, so it would give "abc".
    bpe = _byte_level_bpe([("a", "b"), ("b", "c"), ("a", "bc")])
    assert bpe.encode("abc").tokens == ["ab", "c"]
    assert FastEncoder.build(bpe) is None


def test_merges_that_tiktoken_applies_alike_get_a_fast_encoder():
    bpe = _byte_level_bpe([("a", "b"), ("b", "c"), ("ab", "c")])
    encoder = FastEncoder.build(bpe)
    assert encoder is not None
    assert agrees_with(encoder, bpe, ["abc", "abcabc bcab", "cab ab bc a b c"])


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


def test_flat_encoding_of_a_batch_equals_encoding_each_text(tokenizer):
    encoder = FastEncoder.build(tokenizer.backend_tokenizer)
    texts = ["".join(random.Random(n).choices(WORDS, k=20)) for n in range(100)] + ["", "x"]
    ids, lengths = encoder.encode_flat(texts)
    expected = [e.ids for e in tokenizer.backend_tokenizer.encode_batch_fast(
        texts, add_special_tokens=False)]
    assert lengths.tolist() == [len(e) for e in expected]
    assert ids.tolist() == [i for e in expected for i in e]


def test_text_holding_the_batch_separator_is_encoded_on_its_own(tokenizer):
    from services.dataset.fastbpe import SEPARATOR

    encoder = FastEncoder.build(tokenizer.backend_tokenizer)
    texts = ["你好", f"a{SEPARATOR}b", "e\u0301", "world"]
    ids, lengths = encoder.encode_flat(texts)
    expected = [e.ids for e in tokenizer.backend_tokenizer.encode_batch_fast(
        texts, add_special_tokens=False)]
    assert (ids.tolist(), lengths.tolist()) == ([i for e in expected for i in e],
                                                [len(e) for e in expected])


def test_split_regex_tiktoken_cannot_read_gets_no_fast_encoder(tokenizer):
    from tokenizers import Tokenizer

    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    # Oniguruma's \X (a grapheme cluster) is no escape in tiktoken's regex engine.
    spec["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = r"\p{L}+|\s+|\X"
    odd = Tokenizer.from_str(json.dumps(spec))
    assert FastEncoder.build(odd) is None
