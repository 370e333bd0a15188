"""The rules a dataset must pass, the canonical form it becomes, and the report of what failed.

Every problem names its record (JSONL line or array index), the field path and what is wrong;
a file with any problem is refused whole, so nothing is dropped silently.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from services.common.errors import TuneForgeError
from services.dataset.formats import (
    Limits,
    Location,
    Problem,
    RecordFormat,
    canonical_line,
    read_records,
    record_format,
)

EXPECTED_ROLES = "user, assistant or system"


@dataclass(frozen=True)
class Summary:
    """What a valid file holds."""

    format: str  # e.g. "conversations-jsonl"
    num_examples: int


@dataclass
class Report:
    """Every problem of a file: the count, and the first `keep` of them."""

    keep: int = 100
    total: int = 0
    problems: list[Problem] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        self.total += 1
        if len(self.problems) < self.keep:
            self.problems.append(problem)

    def error(self, shown: int) -> TuneForgeError:
        """The invalid_file error quoting the first `shown` problems."""
        noun = "error" if self.total == 1 else "errors"
        quoted = "; ".join(str(p) for p in self.problems[:shown])
        if self.total <= shown:
            message = f"The file has {self.total} {noun}: {quoted}"
        else:
            message = f"The file has {self.total} {noun}; the first {shown}: {quoted}"
        return TuneForgeError("invalid_file", message, "file")


@dataclass
class Checked:
    """One record after the rules: its canonical messages, or the problems that prevent them."""

    id: str | None = None
    format: RecordFormat | None = None
    messages: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def convert(source: Path, target: Path, limits: Limits, shown: int = 5) -> Summary:
    """Check every record of `source`, writing canonical JSONL to `target`; raise invalid_file."""
    container, items = read_records(source, limits)
    report, across, count = Report(), _AcrossRecords(), 0
    with open(target, "wb") as out:
        for item in items:
            if isinstance(item, Problem):
                report.add(item)
                continue
            checked = check_record(*item)
            across.check(item[0], checked)
            for problem in checked.problems:
                report.add(problem)
            if not checked.problems and not report.total:  # a refused file needs no output
                out.write(canonical_line(checked.id, checked.messages))
                count += 1
    if report.total == 0 and count == 0:
        report.add(Problem(None, "", "the file contains no records"))
    if report.total:
        raise report.error(shown)
    return Summary(f"{across.format.name}-{container}", count)


class _AcrossRecords:
    """Rules that span records: one format per file, unique ids."""

    def __init__(self):
        self.format: RecordFormat | None = None
        # One entry per record: ids are small next to the examples they name.
        self.first_seen: dict[str, Location] = {}

    def check(self, where: Location, checked: Checked) -> None:
        self.format = self.format or checked.format
        if checked.format and checked.format is not self.format:
            checked.problems.append(Problem(
                where, checked.format.turns_field,
                f'the file\'s first record uses "{self.format.turns_field}"; '
                "one file cannot mix formats"))
        if checked.id is None:
            return
        if checked.id in self.first_seen:
            checked.problems.append(Problem(
                where, "id", f'duplicate id "{checked.id}" '
                             f"(first used at {self.first_seen[checked.id]})"))
        else:
            self.first_seen[checked.id] = where


def check_record(where: Location, record: object) -> Checked:
    """Apply every per-record rule; the canonical messages are kept only when all pass."""
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
        checked.messages = _check_turns(where, fmt, turns, checked.problems)
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
                 problems: list[Problem]) -> list[dict]:
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
