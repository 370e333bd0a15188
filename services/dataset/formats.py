"""Input formats: how a file is split into records and how each record spells its turns.

Two containers (JSONL, or one JSON array, streamed by `jsonarray.py`) times two record shapes (the seed's `conversations`
of `{"from", "value"}`, ShareGPT spelling included, and OpenAI's `messages` of
`{"role", "content", "weight"?}`). Readers yield raw records with their location; the rules
that turn a record into the canonical form live in `validation.py`.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import orjson

UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_READ = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Size limits that keep one upload from exhausting memory."""

    max_line_bytes: int  # one JSONL line, or one item of a JSON array


@dataclass(frozen=True)
class Location:
    """Where a record starts: a JSONL line, or an index into a JSON array (and its line)."""

    line: int
    index: int | None = None

    def __str__(self) -> str:
        if self.index is None:
            return f"line {self.line}"
        return f"index {self.index} (line {self.line})"

    def default_id(self) -> str:
        """Id of a record that has none."""
        return f"line-{self.line}" if self.index is None else f"index-{self.index}"


@dataclass(frozen=True)
class Problem:
    """One finding about a file; `where` is None for the file as a whole.

    An error makes the file unusable for training; a warning is reported but does not block.
    """

    where: Location | None
    path: str
    message: str
    severity: str = "error"

    def to_json(self) -> dict:
        """The problem as one line of a file's report."""
        return {
            "severity": self.severity,
            "line": self.where.line if self.where else None,
            "index": self.where.index if self.where else None,
            "path": self.path, "message": self.message, "text": str(self),
        }

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        return f"{self.where}: {text}" if self.where else text


@dataclass(frozen=True)
class RecordFormat:
    """How one record shape names its list of turns and their fields."""

    name: str
    turns_field: str
    role_field: str
    content_field: str
    roles: dict[str, str] = field(repr=False)  # accepted spelling -> canonical role
    has_weight: bool


CONVERSATIONS = RecordFormat(
    "conversations", "conversations", "from", "value",
    {"system": "system", "user": "user", "assistant": "assistant",
     "human": "user", "gpt": "assistant"},  # ShareGPT's spelling
    has_weight=False,
)
MESSAGES = RecordFormat(
    "messages", "messages", "role", "content",
    {"system": "system", "user": "user", "assistant": "assistant"},
    has_weight=True,
)
RECORD_FORMATS = (CONVERSATIONS, MESSAGES)


def record_format(record: dict) -> RecordFormat | str:
    """The shape of a record, or why it has none."""
    found = [f for f in RECORD_FORMATS if f.turns_field in record]
    if len(found) == 1:
        return found[0]
    if found:
        return 'has both "conversations" and "messages" (use one)'
    return 'missing "conversations" (or "messages")'


Item = tuple[Location, object] | Problem
"""A reader yields a parsed record with its location, or a problem where none could be parsed."""


def read_records(path: Path, limits: Limits) -> tuple[str, Iterator[Item]]:
    """Detect the container ("json" for an array, else "jsonl") and iterate its records."""
    with open(path, "rb") as f:
        if f.read(2) in _UTF16_BOMS:
            problem = Problem(None, "", "the file is UTF-16 encoded; save it as UTF-8")
            return "jsonl", iter([problem])
        f.seek(0)
        first = _first_significant_byte(f)
    if first == b"[":
        from services.dataset.jsonarray import read_array  # it builds on this module

        return "json", read_array(path, limits)
    return "jsonl", _read_jsonl(path, limits)


def _first_significant_byte(f: BinaryIO) -> bytes:
    start = f.read(3)
    pending = start[3:] if start == UTF8_BOM else start
    while True:
        stripped = pending.lstrip()
        if stripped:
            return stripped[:1]
        pending = f.read(_READ)
        if not pending:
            return b""


def _read_jsonl(path: Path, limits: Limits) -> Iterator[Item]:
    with open(path, "rb") as f:
        number = 0
        while raw := f.readline(limits.max_line_bytes + 1):
            number += 1
            where = Location(number)
            if len(raw) > limits.max_line_bytes and not raw.endswith(b"\n"):
                size = len(raw) + _skip_rest_of_line(f)
                yield Problem(where, "", f"the line is {size} bytes, over the limit of "
                                         f"{limits.max_line_bytes} bytes per line")
                continue
            line = raw.removeprefix(UTF8_BOM) if number == 1 else raw
            line = line.rstrip(b"\r\n")
            if not line.strip():
                continue  # blank lines (a trailing newline, spacing) hold no record
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as e:
                yield Problem(where, "", f"not valid UTF-8 (byte 0x{line[e.start]:02x} "
                                         f"at byte {e.start + 1} of the line)")
                continue
            try:
                yield where, json.loads(text)
            except json.JSONDecodeError as e:
                yield Problem(where, "", f"invalid JSON: {e.msg} (column {e.colno})")


def _skip_rest_of_line(f: BinaryIO) -> int:
    skipped = 0
    while chunk := f.readline(_READ):
        skipped += len(chunk)
        if chunk.endswith(b"\n"):
            break
    return skipped


def canonical_line(record_id: str, messages: list[dict]) -> bytes:
    """One line of the canonical JSONL the training service reads."""
    return orjson.dumps({"id": record_id, "messages": messages}) + b"\n"
