"""Byte-level BPE encoding that gives the fast tokenizer's ids several times faster.

Hugging Face `tokenizers` spends most of its time on the pre-tokenizer regex and on building
`Encoding` objects with offsets we do not need. This encoder splits on the special tokens,
pre-tokenizes with the same regex (the `regex` package), and keeps a cache of word -> ids; only
words not seen before go to the Rust BPE model, in one parallel batch. It supports the
GPT-2 / Qwen / Llama-3 family (NFC or no normalizer, byte-level pre-tokenizer, plain BPE);
`FastEncoder.build` returns None for anything else, and callers fall back to the tokenizer.
Callers also check its output against the tokenizer's on samples (`agrees_with`).
"""

import json
import unicodedata
from collections.abc import Sequence
from itertools import chain

import regex
from tokenizers import Tokenizer

# The GPT-2 split, used by ByteLevel(use_regex=True).
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# Bounds the cache's memory (a few hundred bytes a word); it is cleared when full.
MAX_CACHED_WORDS = 500_000
# Above this share of new words in a batch, the whole batch goes to the tokenizer itself.
MISS_SHARE = 0.25
_WORDS_PRE_TOKENIZER = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                        "use_regex": False}


class Unsupported(ValueError):
    """The tokenizer uses a feature this encoder does not reproduce."""


class FastEncoder:
    def __init__(self, backend: Tokenizer):
        spec = json.loads(backend.to_str())
        self.nfc = _normalizer(spec.get("normalizer"))
        self.split = regex.compile(_split_pattern(spec.get("pre_tokenizer")))
        _check_model(spec["model"])
        specials = _added_tokens(spec.get("added_tokens") or [])
        self.specials = regex.compile("|".join(
            regex.escape(c) for c in sorted(specials, key=len, reverse=True))) if specials \
            else None
        self.special_ids = {content: [i] for content, i in specials.items()}
        words_spec = spec | {"normalizer": None, "pre_tokenizer": _WORDS_PRE_TOKENIZER,
                             "added_tokens": [], "post_processor": None, "decoder": None,
                             "truncation": None, "padding": None}
        self.words = Tokenizer.from_str(json.dumps(words_spec))
        self.backend = backend
        self.cache: dict[str, list[int]] = dict(self.special_ids)

    @classmethod
    def build(cls, backend: Tokenizer) -> "FastEncoder | None":
        """The encoder for this tokenizer, or None when it is not of a supported kind."""
        try:
            return cls(backend)
        except Unsupported:
            return None

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, as `tokenizer(text, add_special_tokens=False)` gives them."""
        pieces = [self._words(text) for text in texts]
        cache = self.cache
        missing = {w for words in pieces for w in words if w not in cache}
        if len(missing) > MISS_SHARE * sum(map(len, pieces)):
            # Mostly new words (long CJK runs are): the cache cannot pay for itself here.
            return [e.ids for e in self.backend.encode_batch_fast(list(texts),
                                                                 add_special_tokens=False)]
        if missing:
            if len(cache) + len(missing) > MAX_CACHED_WORDS:
                cache.clear()
                cache.update(self.special_ids)
                missing = {w for words in pieces for w in words if w not in cache}
            words = list(missing)
            encoded = self.words.encode_batch_fast(words, add_special_tokens=False)
            cache.update(zip(words, (e.ids for e in encoded)))
        get = cache.__getitem__
        return [list(chain.from_iterable(map(get, words))) for words in pieces]

    def _words(self, text: str) -> list[str]:
        if self.specials is None:
            return self._plain(text)
        words, pos = [], 0
        for m in self.specials.finditer(text):
            if m.start() > pos:
                words += self._plain(text[pos:m.start()])
            words.append(m.group())
            pos = m.end()
        if pos < len(text):
            words += self._plain(text[pos:])
        return words

    def _plain(self, text: str) -> list[str]:
        if self.nfc and not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        return self.split.findall(text)


def agrees_with(encoder: FastEncoder, backend: Tokenizer, texts: Sequence[str]) -> bool:
    """Whether the encoder gives exactly the tokenizer's ids for these texts."""
    expected = [e.ids for e in backend.encode_batch_fast(list(texts), add_special_tokens=False)]
    return encoder.encode_batch(texts) == expected


def _normalizer(spec: dict | None) -> bool:
    if spec is None:
        return False
    if spec.get("type") == "NFC":
        return True
    raise Unsupported(f"normalizer {spec.get('type')}")


def _split_pattern(spec: dict | None) -> str:
    if spec and spec.get("type") == "ByteLevel" and spec.get("use_regex", True) \
            and not spec.get("add_prefix_space"):
        return GPT2_PATTERN
    if spec and spec.get("type") == "Sequence" and len(spec["pretokenizers"]) == 2:
        split, byte_level = spec["pretokenizers"]
        if (split.get("type") == "Split" and "Regex" in split.get("pattern", {})
                and split.get("behavior") == "Isolated" and not split.get("invert")
                and byte_level.get("type") == "ByteLevel" and not byte_level.get("use_regex")
                and not byte_level.get("add_prefix_space")):
            return split["pattern"]["Regex"]
    raise Unsupported(f"pre-tokenizer {spec}")


def _check_model(spec: dict) -> None:
    if spec.get("type") != "BPE" or spec.get("dropout") or spec.get("continuing_subword_prefix") \
            or spec.get("end_of_word_suffix"):
        raise Unsupported(f"model {spec.get('type')}")


def _added_tokens(tokens: list[dict]) -> dict[str, int]:
    for t in tokens:
        if t.get("lstrip") or t.get("rstrip") or t.get("single_word") \
                or not unicodedata.is_normalized("NFC", t["content"]):
            raise Unsupported(f"added token {t['content']!r}")
    return {t["content"]: t["id"] for t in tokens}
