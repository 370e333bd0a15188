"""Generated token ids to streamed text: whole characters only, cut before any stop string."""

from collections.abc import Sequence

from tokenizers import decoders
from transformers import PreTrainedTokenizerBase

# Prompt tokens decoded ahead of the completion: SentencePiece tokenizers drop a word's
# leading space when it starts the decoded string, so the first token needs left context.
_CONTEXT_TOKENS = 5
_REPLACEMENT = "\ufffd"  # what an incomplete UTF-8 sequence decodes to


class IncrementalDetokenizer:
    """Decodes a growing list of token ids into deltas that never split a character."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, prompt_token_ids: Sequence[int]):
        self.tokenizer = tokenizer
        self.ids = list(prompt_token_ids[-_CONTEXT_TOKENS:])
        self.prefix = 0  # start of the window decoded again for context
        self.read = len(self.ids)  # end of the tokens whose text was emitted

    def push(self, token_id: int) -> str:
        """Text that `token_id` completes; empty while it ends inside a character."""
        self.ids.append(token_id)
        return self._advance(final=False)

    def flush(self) -> str:
        """Whatever text is left at the end, incomplete characters as U+FFFD."""
        return self._advance(final=True)

    def _advance(self, final: bool) -> str:
        before = self._decode(self.ids[self.prefix:self.read])
        after = self._decode(self.ids[self.prefix:])
        if len(after) <= len(before) or (after.endswith(_REPLACEMENT) and not final):
            return ""
        self.prefix, self.read = self.read, len(self.ids)
        return after[len(before):]

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)


class StopStrings:
    """Passes text on, holding back what may start a stop string; cuts before the first one."""

    def __init__(self, stops: Sequence[str]):
        self.stops = [s for s in stops if s]
        self.pending = ""
        self.hit = False

    def feed(self, text: str) -> str:
        """The part of the text so far that is safe to emit; nothing once a stop string hit."""
        if self.hit:
            return ""
        self.pending += text
        found = [i for s in self.stops if (i := self.pending.find(s)) >= 0]
        if found:
            self.hit = True
            out, self.pending = self.pending[:min(found)], ""
            return out
        cut = len(self.pending) - self._partial_stop_suffix()
        out, self.pending = self.pending[:cut], self.pending[cut:]
        return out

    def flush(self) -> str:
        """Held-back text at the end of generation: no stop string completed it."""
        out, self.pending = self.pending, ""
        return out

    def _partial_stop_suffix(self) -> int:
        """Length of the longest end of `pending` that a stop string starts with."""
        longest = 0
        for stop in self.stops:
            for k in range(min(len(stop) - 1, len(self.pending)), longest, -1):
                if self.pending.endswith(stop[:k]):
                    longest = k
                    break
        return longest


class TextStream:
    """One choice's text: detokenized incrementally, truncated before the first stop string."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, prompt_token_ids: Sequence[int],
                 stops: Sequence[str]):
        self._detokenizer = IncrementalDetokenizer(tokenizer, prompt_token_ids)
        self._stops = StopStrings(stops)

    @property
    def stopped(self) -> bool:
        """Whether a stop string appeared; the choice then ends."""
        return self._stops.hit

    def push(self, token_id: int) -> str:
        return self._stops.feed(self._detokenizer.push(token_id))

    def finish(self) -> str:
        """The rest of the text once generation has ended."""
        text = self._stops.feed(self._detokenizer.flush())
        return text + self._stops.flush()


class TokenText:
    """A token's own text and raw bytes, for logprobs: byte-level BPE tokens may hold part of
    a character, whose text alone would be U+FFFD but whose bytes join up with the next."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase):
        self.tokenizer = tokenizer
        backend = getattr(tokenizer, "backend_tokenizer", None)
        self._byte_level = backend is not None and isinstance(backend.decoder,
                                                              decoders.ByteLevel)

    def __call__(self, token_id: int) -> tuple[str, bytes]:
        text = self.tokenizer.decode([token_id])
        if not self._byte_level:
            return text, text.encode()
        piece = self.tokenizer.convert_ids_to_tokens(token_id)
        if any(ch not in _UNICODE_TO_BYTE for ch in piece):  # a special or added token
            return text, text.encode()
        return text, bytes(_UNICODE_TO_BYTE[ch] for ch in piece)


def _byte_level_alphabet() -> dict[str, int]:
    # GPT-2's reversible map of bytes to printable characters, which byte-level BPE spells in.
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


_UNICODE_TO_BYTE = _byte_level_alphabet()
