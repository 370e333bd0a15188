"""Tokenizing canonical examples for training, in batches, exactly as the trainer would.

`services.common.chat.tokenize_for_training` is the definition: it renders the template for
every assistant turn and tokenizes each piece alone, which costs milliseconds an example. The
fast path renders with a `ChatPlan` and encodes all pieces of a batch at once (`FastEncoder`, or
the tokenizer's own batch call); it is used only after giving the same ids and labels as the
definition on probe conversations and on the first examples of every file.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from services.common.chat import IGNORE_INDEX, ChatMessage, tokenize_for_training
from services.dataset.chatplan import ChatPlan
from services.dataset.fastbpe import FastEncoder

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


class ExampleTokenizer:
    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.plan = ChatPlan.compile(tokenizer)
        encoder = FastEncoder.build(tokenizer.backend_tokenizer) \
            if hasattr(tokenizer, "backend_tokenizer") else None
        self.encode = encoder.encode_batch if encoder else self._encode_with_tokenizer
        self.fast = self.plan is not None and self.agrees(_probes())
        if not self.fast:
            log.warning("the chat template or tokenizer has no fast path; tokenizing slowly")

    def _encode_with_tokenizer(self, texts: Sequence[str]) -> list[list[int]]:
        return self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]

    def agrees(self, conversations: Sequence[Sequence[ChatMessage]]) -> bool:
        """Whether the fast path gives the definition's ids and labels for these examples."""
        if self.plan is None:
            return False
        fast = self._fast(conversations, 1 << 30)
        for messages, got in zip(conversations, fast):
            try:
                want = tokenize_for_training(self.tokenizer, messages, 1 << 30)
            except ValueError:  # a template the definition cannot mask either
                return False
            labels = [i if t else IGNORE_INDEX for i, t in zip(got.input_ids, got.trained)]
            if (got.input_ids, labels) != (want.input_ids, want.labels):
                return False
        return True

    def batch(self, conversations: Sequence[Sequence[ChatMessage]],
              max_length: int) -> list[Tokenized]:
        """Tokenize a batch of examples, truncated to `max_length` tokens."""
        if self.fast:
            return self._fast(conversations, max_length)
        return [self._slow(messages, max_length) for messages in conversations]

    def _fast(self, conversations, max_length: int) -> list[Tokenized]:
        cut = [self.plan.segments(messages)[0] for messages in conversations]
        encoded = iter(self.encode([piece for pieces in cut for piece in pieces]))
        out = []
        for pieces in cut:
            ids: list[int] = []
            trained: list[bool] = []
            for k in range(len(pieces)):
                piece_ids = next(encoded)
                ids += piece_ids
                trained += [k % 2 == 1] * len(piece_ids)
            out.append(Tokenized(ids[:max_length], trained[:max_length], len(ids)))
        return out

    def _slow(self, messages, max_length: int) -> Tokenized:
        full = tokenize_for_training(self.tokenizer, messages, 1 << 30)
        trained = [label != IGNORE_INDEX for label in full.labels]
        return Tokenized(full.input_ids[:max_length], trained[:max_length], len(full.input_ids))
