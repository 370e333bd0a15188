"""A file's validation report: every problem as one JSON line, stored beside its content.

Line n of the report (1-based) is problem n; pages are read with `after` = the number of the
last problem already seen, so a client walks the report like any other list.
"""

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from services.dataset.formats import Location, Problem
from services.dataset.validation import ReportSink, Summary


class ReportFile(ReportSink):
    """Counts every problem and writes the first `max_lines` of them to a JSONL file."""

    def __init__(self, path: Path, max_lines: int, keep: int = 100):
        super().__init__(keep)
        self.max_lines, self.written = max_lines, 0
        self.out = open(path, "w", encoding="utf-8")

    def add(self, problem: Problem) -> None:
        super().add(problem)
        if self.written < self.max_lines:
            self.written += 1
            entry = {"number": self.written, **problem.to_json()}
            self.out.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def close(self) -> None:
        self.out.close()

    def __enter__(self) -> "ReportFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def summary_to_json(summary: Summary, validator: str, report_lines: int) -> dict:
    """What a later upload of the same bytes needs to skip validation."""
    return {
        "validator": validator, "format": summary.format, "num_examples": summary.num_examples,
        "num_errors": summary.num_errors, "num_warnings": summary.num_warnings,
        "first_errors": [p.to_json() for p in summary.first_errors],
        "report_lines": report_lines,
    }


def summary_from_json(data: dict) -> Summary:
    first = [Problem(Location(p["line"], p["index"]) if p["line"] is not None else None,
                     p["path"], p["message"], p["severity"]) for p in data["first_errors"]]
    return Summary(data["format"], data["num_examples"], data["num_errors"],
                   data["num_warnings"], first)


def page(chunks: Iterable[bytes], after: int, limit: int) -> tuple[list[dict], bool]:
    """Problems `after`+1 .. `after`+`limit` from the report's bytes, and whether more follow."""
    entries = []
    for number, line in enumerate(_lines(chunks), start=1):
        if number <= after:
            continue
        if len(entries) == limit:
            return entries, True
        entries.append(json.loads(line))
    return entries, False


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line)
    if pending:
        yield pending
