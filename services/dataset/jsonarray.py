"""Stream the items of one JSON array file without holding the file in memory.

The file is decoded in chunks into a sliding text buffer; `json.JSONDecoder.raw_decode` takes
one item at a time and the consumed text is dropped, so memory is bounded by the largest item
(at most `Limits.max_line_bytes`) plus one read.
"""

import codecs
import json
import re
from collections.abc import Iterator
from pathlib import Path

from services.dataset.formats import UTF8_BOM, Item, Limits, Location, Problem

_SPACE = re.compile(r"[ \t\n\r]*")
_READ = 1024 * 1024
# Consumed text is dropped once this much has piled up, so trimming stays rare and cheap.
_TRIM = 4 * 1024 * 1024


class _Buffer:
    """Decoded text of the file, read on demand; knows the line and column of any position."""

    def __init__(self, f, limits: Limits):
        self.f, self.limits = f, limits
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.text, self.eof = "", False
        self.lines_before = 0  # newlines in the text already dropped
        self.column_before = 0  # characters of the current line already dropped
        self.problem: Problem | None = None  # invalid UTF-8, reported where it was met
        # Newlines before `mark` in the kept text: items are located moving forward, so
        # counting from the last one keeps a single-line array linear.
        self.mark, self.mark_lines = 0, 0

    def more(self) -> bool:
        """Read one more chunk; False at the end of the file or at undecodable bytes."""
        if self.eof or self.problem:
            return False
        raw = self.f.read(_READ)
        try:
            self.text += self.decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as e:
            self.problem = self._utf8_problem(e)
            # The items before the bad byte are still checked.
            self.text += bytes(e.object[:e.start]).decode("utf-8")
            return False
        self.eof = not raw
        return bool(raw)

    def _utf8_problem(self, e: UnicodeDecodeError) -> Problem:
        before = e.object[:e.start]
        line = self.lines_before + self.text.count("\n") + before.count(b"\n") + 1
        newline = before.rfind(b"\n")
        if newline >= 0:
            column = e.start - newline
        else:
            tail = self.text[self.text.rfind("\n") + 1:]
            column = (self.column_before if "\n" not in self.text else 0) + \
                len(tail.encode()) + e.start + 1
        return Problem(Location(line), "", f"not valid UTF-8 (byte 0x{e.object[e.start]:02x} "
                                           f"at byte {column} of the line)")

    def skip_space(self, pos: int) -> int:
        """Position of the next significant character, reading further as needed."""
        while True:
            pos = _SPACE.match(self.text, pos).end()
            if pos < len(self.text) or not self.more():
                return pos

    def trim(self, pos: int) -> int:
        """Drop the text before `pos`; returns the same position in the kept text."""
        if pos < _TRIM:
            return pos
        dropped = self.text[:pos]
        newlines = dropped.count("\n")
        self.lines_before += newlines
        self.column_before = (pos - dropped.rfind("\n") - 1) if newlines \
            else self.column_before + pos
        self.text = self.text[pos:]
        self.mark, self.mark_lines = 0, 0
        return 0

    def line(self, pos: int) -> int:
        if pos < self.mark:
            self.mark, self.mark_lines = 0, 0
        self.mark_lines += self.text.count("\n", self.mark, pos)
        self.mark = pos
        return self.lines_before + self.mark_lines + 1

    def column(self, pos: int) -> int:
        newline = self.text.rfind("\n", 0, pos)
        return pos - newline if newline >= 0 else self.column_before + pos + 1

    def syntax(self, pos: int, message: str) -> Problem:
        return Problem(Location(self.line(pos)), "",
                       f"invalid JSON: {message} (column {self.column(pos)})")


def read_array(path: Path, limits: Limits) -> Iterator[Item]:
    """Yield each item of the array with its index and line, or the problem that stops reading."""
    with open(path, "rb") as f:
        if f.read(3) != UTF8_BOM:
            f.seek(0)
        buf = _Buffer(f, limits)
        yield from _walk(buf, limits)
        if buf.problem:
            yield buf.problem


def _walk(buf: _Buffer, limits: Limits) -> Iterator[Item]:
    decoder = json.JSONDecoder()
    pos = buf.skip_space(0) + 1  # past the "[" that made this file an array
    pos = buf.skip_space(pos)
    if buf.text.startswith("]", pos):
        yield from _check_end(buf, pos)
        return
    index = 0
    while True:
        pos = buf.trim(pos)
        item = _decode(buf, decoder, pos, limits)
        if item is None:
            return
        if isinstance(item, Problem):
            yield item
            return
        value, end = item
        where = Location(buf.line(pos), index)
        size = _size(buf.text, pos, end, limits.max_line_bytes)
        if size > limits.max_line_bytes:
            yield Problem(where, "", f"the record is {size} bytes, over the limit of "
                                     f"{limits.max_line_bytes} bytes per record")
        else:
            yield where, value
        pos = buf.skip_space(end)
        if buf.text.startswith(",", pos):
            pos = buf.skip_space(pos + 1)
            index += 1
        elif buf.text.startswith("]", pos):
            yield from _check_end(buf, pos)
            return
        else:
            if not buf.problem:
                yield buf.syntax(pos, "expected ',' or ']' after an array item")
            return


def _decode(buf: _Buffer, decoder: json.JSONDecoder, pos: int,
            limits: Limits) -> tuple[object, int] | Problem | None:
    """One item at `pos`, reading more text while it may only be incomplete; None when
    undecodable bytes stop the reading (`buf.problem` says where)."""
    while True:
        try:
            return decoder.raw_decode(buf.text, pos)
        except json.JSONDecodeError as e:
            if _certain(e, buf):
                return buf.syntax(e.pos, e.msg)
            if len(buf.text) - pos > limits.max_line_bytes:
                return Problem(Location(buf.line(pos)), "", f"the record is over the limit of "
                                                            f"{limits.max_line_bytes} bytes per record")
            if not buf.more():
                return None if buf.problem else buf.syntax(e.pos, e.msg)


def _size(text: str, start: int, end: int, limit: int) -> int:
    # Encoding is needed only where the character count says the bytes may be over the limit.
    return len(text[start:end].encode()) if (end - start) * 4 > limit else end - start


def _certain(e: json.JSONDecodeError, buf: _Buffer) -> bool:
    """Whether more text could not fix the error: it is not at the end of what was read."""
    # Only strings (reported where they start) and literals or numbers (at most a few
    # characters before the end) can be cut by a partial read.
    return e.pos < len(buf.text) - 8 and not e.msg.startswith("Unterminated")


def _check_end(buf: _Buffer, close: int) -> Iterator[Problem]:
    end = buf.skip_space(close + 1)
    if end != len(buf.text):
        yield buf.syntax(end, "unexpected data after the closing ']'")
