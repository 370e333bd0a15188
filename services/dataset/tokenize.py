"""Tokenizing canonical examples for training, in batches, exactly as the trainer would.

`services.common.chat.tokenize_for_training` is the definition: it renders the template for
every assistant turn and tokenizes each piece alone, which costs milliseconds an example. The
fast path renders with a `ChatPlan`, encodes all pieces of a batch at once (`FastEncoder`, or
the tokenizer's own batch call) and builds the loss masks with numpy; it is used only after
giving the same ids and labels as the definition on probe conversations and on the first
examples of every file.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from services.common.chat import IGNORE_INDEX, ChatMessage, tokenize_for_training
from services.dataset.chatplan import ChatPlan
from services.dataset.fastbpe import FastEncoder, flatten

log = logging.getLogger(__name__)

_PROBE_TEXTS = [
    "你好", "Hello, world!", "  leading and trailing  ", "line one\nline two\n\n", "a\r\nb",
    "tabs\tand  double  spaces", "emoji 🙂👍🏽 ok", "e\u0301 composed", "数字 12345 and 3.14",
    "literal <|im_end|> inside", "<|im_start|>user\nfake turn", "x" * 300, "中文和English混合。",
    "ends with newline\n", "'s 'll 've contractions", "   ", "!!!???...", "\u00a0nbsp",
]


def _probes() -> list[list[ChatMessage]]:
    texts = _PROBE_TEXTS
    out = []
    for i, text in enumerate(texts):
        other = texts[(i + 1) % len(texts)]
        out.append([{"role": "user", "content": text}, {"role": "assistant", "content": other}])
        out.append([{"role": "system", "content": other}, {"role": "user", "content": text},
                    {"role": "assistant", "content": text, "weight": 0},
                    {"role": "user", "content": other}, {"role": "assistant", "content": other}])
    out.append([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"},
                {"role": "user", "content": "trailing question"}])
    return out


@dataclass
class Tokenized:
    """One example: ids and trained flags after truncation, and its length before."""

    input_ids: list[int]
    trained: list[bool]
    full_length: int


@dataclass
class Batch:
    """Examples back to back: example i is `input_ids[offsets[i]:offsets[i + 1]]`."""

    input_ids: np.ndarray  # uint32, after truncation
    trained: np.ndarray  # uint8, 1 where the token carries loss
    offsets: np.ndarray  # int64 [n + 1]
    full_lengths: np.ndarray  # int64 [n], tokens before truncation

    @property
    def trained_counts(self) -> np.ndarray:
        """Tokens carrying loss in each example, after truncation."""
        return _segment_sums(self.trained, self.offsets)

    def examples(self) -> list[Tokenized]:
        ids, trained, bounds = self.input_ids.tolist(), self.trained.astype(bool).tolist(), \
            self.offsets.tolist()
        return [Tokenized(ids[a:b], trained[a:b], int(full))
                for a, b, full in zip(bounds, bounds[1:], self.full_lengths)]

    @classmethod
    def of(cls, examples: Sequence[Tokenized]) -> "Batch":
        lengths = [len(e.input_ids) for e in examples]
        return cls(np.fromiter(chain.from_iterable(e.input_ids for e in examples), np.uint32),
                   np.fromiter(chain.from_iterable(e.trained for e in examples), np.uint8),
                   _offsets(np.array(lengths, dtype=np.int64)),
                   np.array([e.full_length for e in examples], dtype=np.int64))


class ExampleTokenizer:
    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.plan = ChatPlan.compile(tokenizer)
        encoder = FastEncoder.build(tokenizer.backend_tokenizer) \
            if hasattr(tokenizer, "backend_tokenizer") else None
        self.encode = encoder.encode_flat if encoder else self._encode_with_tokenizer
        self.fast = self.plan is not None and self.agrees(_probes())
        if not self.fast:
            log.warning("the chat template or tokenizer has no fast path; tokenizing slowly")

    def _encode_with_tokenizer(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        return flatten(self.tokenizer(list(texts), add_special_tokens=False)["input_ids"])

    def agrees(self, conversations: Sequence[Sequence[ChatMessage]]) -> bool:
        """Whether the fast path gives the definition's ids and labels for these examples."""
        if self.plan is None:
            return False
        fast = self._fast(conversations, 1 << 30).examples()
        for messages, got in zip(conversations, fast):
            try:
                want = tokenize_for_training(self.tokenizer, messages, 1 << 30)
            except ValueError:  # a template the definition cannot mask either
                return False
            labels = [i if t else IGNORE_INDEX for i, t in zip(got.input_ids, got.trained)]
            if (got.input_ids, labels) != (want.input_ids, want.labels):
                return False
        return True

    def arrays(self, conversations: Sequence[Sequence[ChatMessage]], max_length: int) -> Batch:
        """Tokenize a batch of examples, truncated to `max_length` tokens each."""
        if self.fast:
            return self._fast(conversations, max_length)
        return Batch.of([self._slow(messages, max_length) for messages in conversations])

    def batch(self, conversations: Sequence[Sequence[ChatMessage]],
              max_length: int) -> list[Tokenized]:
        """`arrays`, one example at a time."""
        return self.arrays(conversations, max_length).examples()

    def _fast(self, conversations, max_length: int) -> Batch:
        cut = [self.plan.segments(messages) for messages in conversations]
        ids, piece_lengths = self.encode(list(chain.from_iterable(cut)))
        # Pieces alternate context and trained within each example, starting with context.
        per_example = np.fromiter(map(len, cut), np.int64, len(cut))
        first_piece = _offsets(per_example)
        parity = (np.arange(len(piece_lengths)) - np.repeat(first_piece[:-1], per_example)) & 1
        trained = np.repeat(parity.astype(np.uint8), piece_lengths)
        token_bounds = _offsets(piece_lengths)[first_piece]
        full = np.diff(token_bounds)
        if full.size and full.max() > max_length:
            position = np.arange(len(ids)) - np.repeat(token_bounds[:-1], full)
            keep = position < max_length
            ids, trained = ids[keep], trained[keep]
            token_bounds = _offsets(np.minimum(full, max_length))
        return Batch(ids, trained, token_bounds, full)

    def _slow(self, messages, max_length: int) -> Tokenized:
        full = tokenize_for_training(self.tokenizer, messages, 1 << 30)
        trained = [label != IGNORE_INDEX for label in full.labels]
        return Tokenized(full.input_ids[:max_length], trained[:max_length], len(full.input_ids))


def _offsets(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def _segment_sums(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    total = _offsets(values.astype(np.int64))
    return total[offsets[1:]] - total[offsets[:-1]]
