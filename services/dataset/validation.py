"""The rules a dataset must pass, the canonical form it becomes, and the report of what failed.

Every problem names its record (JSONL line or array index), the field path and what is wrong;
a file with any problem is refused whole, so nothing is dropped silently.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from services.common.errors import TuneForgeError
from services.dataset.formats import (
    CONVERSATIONS,
    MESSAGES,
    Limits,
    Location,
    Problem,
    RecordFormat,
    canonical_line,
    read_records,
    record_format,
)
from services.dataset.seen import SeenIds

EXPECTED_ROLES = "user, assistant or system"
_ABSENT = object()


@dataclass
class Summary:
    """What a file holds and what is wrong with it; the full list goes to the report sink."""

    format: str  # e.g. "conversations-jsonl"
    num_examples: int = 0
    num_errors: int = 0
    num_warnings: int = 0
    first_errors: list[Problem] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "error" if self.num_errors else "processed"

    def details(self, shown: int) -> str:
        """status_details: the first `shown` errors and the total count (empty when valid)."""
        if not self.num_errors:
            return ""
        noun = "error" if self.num_errors == 1 else "errors"
        quoted = "; ".join(str(p) for p in self.first_errors[:shown])
        if self.num_errors <= shown:
            return f"The file has {self.num_errors} {noun}: {quoted}"
        return f"The file has {self.num_errors} {noun}; the first {shown}: {quoted}"

    def error(self, shown: int) -> TuneForgeError:
        """The invalid_file error quoting the first `shown` errors."""
        return TuneForgeError("invalid_file", self.details(shown), "file")


class ReportSink:
    """Receives every problem in file order; this one only counts and keeps the first errors."""

    def __init__(self, keep: int = 100):
        self.keep = keep
        self.summary = Summary("")

    def add(self, problem: Problem) -> None:
        s = self.summary
        if problem.severity == "warning":
            s.num_warnings += 1
        else:
            s.num_errors += 1
            if len(s.first_errors) < self.keep:
                s.first_errors.append(problem)


@dataclass
class Checked:
    """One record after the rules: its canonical messages, or the errors that prevent them."""

    id: str | None = None
    format: RecordFormat | None = None
    messages: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    line: bytes | None = None  # the canonical line, when the fast path made it


def validate(source: Path, target: Path, limits: Limits, sink: ReportSink) -> Summary:
    """Check every record of `source`, reporting each problem to `sink` in file order.

    The canonical JSONL goes to `target`; it is complete only when the summary has no errors.
    """
    container, items = read_records(source, limits)
    across, count = _AcrossRecords(), 0
    with open(target, "wb") as out:
        for item in items:
            if isinstance(item, Problem):
                sink.add(item)
                continue
            checked = check_record(*item)
            across.check(item[0], checked)
            for problem in (*checked.problems, *checked.warnings):
                sink.add(problem)
            if not checked.problems:
                count += 1
                if not sink.summary.num_errors:  # a refused file needs no output
                    out.write(checked.line or canonical_line(checked.id, checked.messages))
    if sink.summary.num_errors == 0 and count == 0:
        sink.add(Problem(None, "", "the file contains no records"))
    summary = sink.summary
    summary.format = f"{across.format.name if across.format else 'unknown'}-{container}"
    summary.num_examples = count
    return summary


def convert(source: Path, target: Path, limits: Limits, shown: int = 5) -> Summary:
    """Validate `source` into canonical JSONL at `target`; raise invalid_file on any error."""
    summary = validate(source, target, limits, ReportSink())
    if summary.num_errors:
        raise summary.error(shown)
    return summary


class _AcrossRecords:
    """Rules that span records: one format per file, unique ids."""

    def __init__(self):
        self.format: RecordFormat | None = None
        self.seen = SeenIds()

    def check(self, where: Location, checked: Checked) -> None:
        self.format = self.format or checked.format
        if checked.format and checked.format is not self.format:
            checked.problems.append(Problem(
                where, checked.format.turns_field,
                f'the file\'s first record uses "{self.format.turns_field}"; '
                "one file cannot mix formats"))
        if checked.id is None:
            return
        first = self.seen.first_use(checked.id, where.line)
        if first is not None:
            checked.problems.append(Problem(
                where, "id", f'duplicate id "{checked.id}" (first used at line {first})'))


def check_record(where: Location, record: object) -> Checked:
    """Apply every per-record rule; the canonical messages are kept only when all pass."""
    return _clean_record(where, record) or _check_record(where, record)


def _clean_record(where: Location, record: object) -> Checked | None:
    """The common case in a few steps: a record that passes every rule with nothing to warn
    about, or None, and `_check_record` finds out what is wrong. It must accept only what that
    accepts (tests/unit/test_dataset_validation.py compares them)."""
    if type(record) is not dict:
        return None
    if "conversations" in record:
        if "messages" in record:
            return None
        fmt = CONVERSATIONS
    else:
        fmt = MESSAGES
    turns = record.get(fmt.turns_field)
    if type(turns) is not list or not turns:
        return None
    record_id = record.get("id", _ABSENT)
    if record_id is _ABSENT:
        record_id = where.default_id()
    elif type(record_id) is int:
        record_id = str(record_id)
    elif type(record_id) is not str or not record_id or record_id.isspace():
        return None
    roles, role_field, content_field = fmt.roles, fmt.role_field, fmt.content_field
    messages = []
    expected = "user"
    try:  # a turn that is no object, or lacks a field, or has an unknown role, raises
        for i, turn in enumerate(turns):
            role = roles[turn[role_field]]
            content = turn[content_field]
            if type(content) is not str or not content or content.isspace() \
                    or (fmt.has_weight and "weight" in turn):
                return None
            # An optional system turn, then user and assistant alternating from the user.
            if role == expected:
                expected = "assistant" if role == "user" else "user"
            elif role != "system" or i:
                return None
            messages.append({"role": role, "content": content})
    except (KeyError, TypeError, IndexError):
        return None
    if role != "assistant":  # also: a trailing user turn is warned about
        return None
    try:
        line = canonical_line(record_id, messages)
    except orjson.JSONEncodeError:  # an unpaired surrogate in the id or a content
        return None
    return Checked(record_id, fmt, messages, line=line)


def _check_record(where: Location, record: object) -> Checked:
    checked = Checked()
    if not isinstance(record, dict):
        checked.problems.append(
            Problem(where, "", f"expected a JSON object, got {_kind(record)}"))
        return checked
    checked.id = _record_id(where, record, checked.problems)
    fmt = record_format(record)
    if isinstance(fmt, str):
        checked.problems.append(Problem(where, "", fmt))
        return checked
    checked.format = fmt
    turns = record[fmt.turns_field]
    if not isinstance(turns, list):
        checked.problems.append(Problem(
            where, fmt.turns_field, f"must be a list of turns, got {_kind(turns)}"))
    elif not turns:
        checked.problems.append(Problem(where, fmt.turns_field, "is empty"))
    else:
        checked.messages = _check_turns(where, fmt, turns, checked.problems, checked.warnings)
    return checked


def _record_id(where: Location, record: dict, problems: list[Problem]) -> str | None:
    if "id" not in record:
        return where.default_id()
    value = record["id"]
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        problems.append(Problem(where, "id", f"must be a string or an integer, got {_kind(value)}"))
    elif not value.strip():
        problems.append(Problem(where, "id", "is empty"))
    elif not _is_unicode(value):
        problems.append(Problem(where, "id", "contains an unpaired surrogate escape"))
    else:
        return value
    return None


def _check_turns(where: Location, fmt: RecordFormat, turns: list,
                 problems: list[Problem], warnings: list[Problem]) -> list[dict]:
    messages, roles = [], []
    for i, turn in enumerate(turns):
        path = f"{fmt.turns_field}[{i}]"
        if not isinstance(turn, dict):
            problems.append(Problem(where, path, f'must be an object with "{fmt.role_field}" and '
                                                 f'"{fmt.content_field}", got {_kind(turn)}'))
            roles.append(None)
            continue
        role = _check_role(where, fmt, path, turn, problems)
        content = _check_content(where, fmt, path, turn, problems)
        message = {"role": role, "content": content}
        if fmt.has_weight and "weight" in turn:
            message["weight"] = _check_weight(where, path, turn, role, problems)
        roles.append(role)
        messages.append(message)
    _check_order(where, fmt, roles, problems)
    _warn_trailing_user(where, fmt, roles, warnings)
    assistants = [m for m in messages if m["role"] == "assistant"]
    if None not in roles and not assistants:
        problems.append(Problem(where, fmt.turns_field,
                                "no assistant turn (nothing to learn from)"))
    elif assistants and all(m.get("weight") == 0 for m in assistants):
        problems.append(Problem(where, fmt.turns_field,
                                "every assistant message has weight 0 (nothing to learn from)"))
    return messages


def _check_role(where, fmt: RecordFormat, path: str, turn: dict, problems) -> str | None:
    path = f"{path}.{fmt.role_field}"
    if fmt.role_field not in turn:
        problems.append(Problem(where, path, "missing"))
        return None
    value = turn[fmt.role_field]
    if not isinstance(value, str):
        problems.append(Problem(where, path, f"must be a string, got {_kind(value)}"))
        return None
    if value not in fmt.roles:
        problems.append(Problem(where, path, f'unknown role "{value}" (expected {EXPECTED_ROLES})'))
        return None
    return fmt.roles[value]


def _check_content(where, fmt: RecordFormat, path: str, turn: dict, problems) -> str | None:
    path = f"{path}.{fmt.content_field}"
    if fmt.content_field not in turn:
        problems.append(Problem(where, path, "missing"))
        return None
    value = turn[fmt.content_field]
    if not isinstance(value, str):
        problems.append(Problem(where, path, f"must be a string, got {_kind(value)}"))
    elif not value.strip():
        problems.append(Problem(where, path, "is empty"))
    elif not _is_unicode(value):
        problems.append(Problem(where, path, "contains an unpaired surrogate escape"))
    else:
        return value
    return None


def _check_weight(where, path: str, turn: dict, role: str | None, problems) -> int | None:
    value = turn["weight"]
    if isinstance(value, bool) or value not in (0, 1):
        problems.append(Problem(where, f"{path}.weight", f"must be 0 or 1, got {_json(value)}"))
        return None
    if role not in ("assistant", None):
        problems.append(Problem(where, f"{path}.weight",
                                f"only assistant messages may have a weight, not {role}"))
    return int(value)


def _check_order(where, fmt: RecordFormat, roles: list[str | None], problems) -> None:
    """An optional system turn first, then user and assistant alternating from the user."""
    expected, started = "user", False
    for i, role in enumerate(roles):
        path = f"{fmt.turns_field}[{i}].{fmt.role_field}"
        if role == "system":
            if i > 0:
                problems.append(Problem(where, path, "a system turn must come first"))
            continue
        if role is not None and role != expected:
            problems.append(Problem(where, path, (
                f"two {role} turns in a row (turns must alternate user and assistant)" if started
                else f"the first turn must be from the user, not the {role}")))
        # An unreadable role counts as the expected one, so one bad turn is one problem.
        expected = "assistant" if (role or expected) == "user" else "user"
        started = True


def _warn_trailing_user(where, fmt: RecordFormat, roles: list[str | None], warnings) -> None:
    if len(roles) > 1 and roles[-1] == "user":
        warnings.append(Problem(
            where, f"{fmt.turns_field}[{len(roles) - 1}].{fmt.role_field}",
            "the conversation ends with a user turn, which is context only: nothing after it "
            "is learned", severity="warning"))


def _is_unicode(text: str) -> bool:
    # json.loads accepts "\ud800" escapes, which no UTF-8 file or tokenizer can hold.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _kind(value: object) -> str:
    """The JSON name of a value's type, with an article."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)[:40]
