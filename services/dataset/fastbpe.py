"""Byte-level BPE through tiktoken's Rust core, giving exactly the fast tokenizer's ids.

Hugging Face `tokenizers` spends most of its time on the Oniguruma pre-tokenizer, on per-byte
allocations in its BPE (long CJK words are several times slower than their length suggests)
and on building `Encoding` objects; tiktoken splits and merges the same text about five times
faster. It merges differently, though, and `FastEncoder.build` proves the two agree first:

- tiktoken joins any two adjacent parts whose concatenation is a token, lowest rank first;
  tokenizers joins only the pairs in its merges list, in list order. With a token's id as its
  rank (ids must grow along the merges list), both make the same choices as long as tiktoken
  never joins an unlisted pair. Where tiktoken first does so, the parts it joins cover a token,
  and the merges inside that token's span are exactly those of BPE on the token alone; so it
  suffices that BPE of each token's own bytes never joins an unlisted pair (`_rank_bpe`).
- tiktoken returns a word that is itself a token as that token; tokenizers (unless
  `ignore_merges`) runs BPE on it. Tokens that BPE cannot rebuild are never formed inside a
  longer word either, so they are left out of tiktoken's table.

Added tokens become tiktoken's special tokens (split out first, as tokenizers does); text that
is not in NFC goes to the tokenizer itself, since its normalizer runs between added tokens.
A batch of texts is encoded in one call, joined by a separator that is itself a special token:
each text is then encoded on its own, as in a call of its own, and the ids come back as one
numpy array, with no Python int per token.
Supported: the GPT-2 / Qwen / Llama-3 family (NFC or no normalizer, byte-level pre-tokenizer
with one split regex, plain BPE); `build` returns None for anything else, and callers fall back
to the tokenizer. Callers also check the output against the tokenizer's (`agrees_with`).
"""

import json
import unicodedata
from collections.abc import Sequence
from itertools import chain

import numpy as np
import tiktoken
from tokenizers import Tokenizer

# The GPT-2 split, used by ByteLevel(use_regex=True).
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# Joins the texts of a batch; a text that holds it is encoded on its own. One character cannot
# overlap itself, and NUL composes with nothing under NFC.
SEPARATOR = "\x00"


class Unsupported(ValueError):
    """The tokenizer uses a feature this encoder does not reproduce."""


class FastEncoder:
    def __init__(self, backend: Tokenizer):
        spec = json.loads(backend.to_str())
        self.nfc = _normalizer(spec.get("normalizer"))
        pattern = _split_pattern(spec.get("pre_tokenizer"))
        ranks = _mergeable_ranks(spec["model"])
        added = _added_tokens(spec.get("added_tokens") or [])
        self.added = set(added)
        self.separator = max([*ranks.values(), *added.values()]) + 1
        self.backend = backend
        try:
            self.tiktoken = tiktoken.Encoding(
                "tuneforge-fastbpe", pat_str=pattern, mergeable_ranks=ranks,
                special_tokens=added | {SEPARATOR: self.separator})
        except ValueError as e:  # a split regex in syntax tiktoken's engine does not read
            raise Unsupported(str(e)) from e

    @classmethod
    def build(cls, backend: Tokenizer) -> "FastEncoder | None":
        """The encoder for this tokenizer, or None when it is not of a supported kind."""
        try:
            return cls(backend)
        except Unsupported:
            return None

    def encode_flat(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The ids of all texts back to back (uint32) and the number of each text's ids."""
        joined = SEPARATOR.join(texts)
        if not texts or joined.count(SEPARATOR) != len(texts) - 1 \
                or (self.nfc and not unicodedata.is_normalized("NFC", joined)):
            return flatten(self.encode_batch(texts))
        ids = self.tiktoken.encode_to_numpy(joined, allowed_special="all")
        separators = np.flatnonzero(ids == self.separator)
        lengths = np.diff(separators, prepend=-1, append=len(ids)) - 1
        return np.delete(ids, separators), lengths

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, as `tokenizer(text, add_special_tokens=False)` gives them."""
        encode, nfc, added = self.tiktoken.encode, self.nfc, self.added
        out = [encode(text, allowed_special=added, disallowed_special=())
               if not nfc or unicodedata.is_normalized("NFC", text) else None
               for text in texts]
        if None in out:  # rare: text the normalizer would change
            todo = [i for i, ids in enumerate(out) if ids is None]
            encoded = self.backend.encode_batch_fast([texts[i] for i in todo],
                                                     add_special_tokens=False)
            for i, e in zip(todo, encoded):
                out[i] = e.ids
        return out


def flatten(encoded: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """`encode_flat`'s form of a list of id lists."""
    lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
    return np.fromiter(chain.from_iterable(encoded), np.uint32, int(lengths.sum())), lengths


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


def _mergeable_ranks(model: dict) -> dict[bytes, int]:
    """tiktoken's table: token bytes -> id, for the tokens BPE can produce."""
    if model.get("type") != "BPE" or model.get("dropout") or model.get("byte_fallback") \
            or model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
        raise Unsupported(f"model {model.get('type')}")
    decode = _byte_decoder()
    try:
        ranks = {bytes(decode[c] for c in token): i for token, i in model["vocab"].items()}
    except KeyError as e:
        raise Unsupported("a token outside the byte-level alphabet") from e
    if len(ranks) != len(model["vocab"]) or any(bytes([b]) not in ranks for b in range(256)):
        raise Unsupported("the vocabulary does not hold every byte exactly once")
    merges = [pair.split(" ", 1) if isinstance(pair, str) else pair for pair in model["merges"]]
    listed: set[tuple[bytes, bytes]] = set()
    last = -1
    for a, b in merges:
        pair = (bytes(decode[c] for c in a), bytes(decode[c] for c in b))
        rank = ranks.get(pair[0] + pair[1])
        if rank is None or rank <= last:  # tiktoken's order is the ids' order
            raise Unsupported("token ids do not grow along the merges list")
        listed.add(pair)
        last = rank
    unreachable = []
    for token in ranks:
        parts = _rank_bpe(token, ranks, listed)
        if parts is None:
            raise Unsupported(f"BPE of token {token!r} joins a pair the merges do not list")
        if parts != [token]:
            unreachable.append(token)
    if not model.get("ignore_merges"):
        for token in unreachable:
            del ranks[token]
    return ranks


def _rank_bpe(word: bytes, ranks: dict[bytes, int],
              listed: set[tuple[bytes, bytes]]) -> list[bytes] | None:
    """tiktoken's BPE of `word` (without its whole-word shortcut), or None where it would join
    a pair the merges list does not hold."""
    parts = [word[i:i + 1] for i in range(len(word))]
    while len(parts) > 1:
        best, at = None, -1
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and (best is None or rank < best):
                best, at = rank, i
        if best is None:
            break
        if (parts[at], parts[at + 1]) not in listed:
            return None
        parts[at:at + 2] = [parts[at] + parts[at + 1]]
    return parts


def _added_tokens(tokens: list[dict]) -> dict[str, int]:
    for t in tokens:
        if t.get("lstrip") or t.get("rstrip") or t.get("single_word") \
                or not unicodedata.is_normalized("NFC", t["content"]):
            raise Unsupported(f"added token {t['content']!r}")
    contents = [t["content"] for t in tokens]
    # tokenizers takes the longest of added tokens that start at one place, tiktoken the
    # first listed: they agree when none is a prefix of another (or of the separator).
    if SEPARATOR in contents \
            or any(a != b and b.startswith(a) for a in contents for b in [*contents, SEPARATOR]):
        raise Unsupported("an added token is a prefix of another")
    return {t["content"]: t["id"] for t in tokens}


def _byte_decoder() -> dict[str, int]:
    """Byte-level alphabet character -> byte (GPT-2's printable stand-ins for raw bytes)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    chars = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return {c: b for b, c in chars.items()}
