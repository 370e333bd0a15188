"""Content-addressed dataset objects: everything derived from one upload's bytes lives under
`datasets/<sha256>/`, so identical uploads share it and one prefix delete removes it all.

    raw                the uploaded bytes
    canonical.jsonl    the canonical form (only when the file is valid)
    report.jsonl       every problem found, one JSON line each (report.py)
    summary.json       counts and first errors; written last, so it marks complete content
    tokenized/...      pre-tokenised caches (tokenized.py)
"""

import json
from pathlib import Path

from services.common.artifacts import ArtifactNotFound, ArtifactStore
from services.dataset.formats import Limits
from services.dataset.report import ReportFile, summary_from_json, summary_to_json
from services.dataset.validation import Summary, validate

# Bump when a rule changes, so stored summaries of the same bytes are validated again.
VALIDATOR_VERSION = 2


def prefix(sha256: str) -> str:
    return f"datasets/{sha256}/"


def raw_key(sha256: str) -> str:
    """Artifact key of the uploaded bytes."""
    return f"datasets/{sha256}/raw"


def canonical_key(sha256: str) -> str:
    """Artifact key of the canonical JSONL the training service reads."""
    return f"datasets/{sha256}/canonical.jsonl"


def report_key(sha256: str) -> str:
    return f"datasets/{sha256}/report.jsonl"


def summary_key(sha256: str) -> str:
    return f"datasets/{sha256}/summary.json"


class Contents:
    """Validates and stores content once per hash (blocking: call from a thread)."""

    def __init__(self, artifacts: ArtifactStore, limits: Limits, max_report_problems: int):
        self.artifacts, self.limits = artifacts, limits
        self.max_report_problems = max_report_problems
        self.validator = (f"v{VALIDATOR_VERSION}:max_line_bytes={limits.max_line_bytes}:"
                          f"max_report_problems={max_report_problems}")

    def store(self, sha256: str, raw: Path, workdir: Path) -> Summary:
        """The summary of these bytes: stored already, or validated now and stored with them."""
        if (known := self.stored_summary(sha256)) is not None:
            return known
        canonical, report = workdir / "canonical.jsonl", workdir / "report.jsonl"
        with ReportFile(report, self.max_report_problems) as sink:
            summary = validate(raw, canonical, self.limits, sink)
        self.artifacts.put_file(raw_key(sha256), raw)
        if summary.num_errors:
            self.artifacts.delete(canonical_key(sha256))  # from an earlier, laxer validator
        else:
            self.artifacts.put_file(canonical_key(sha256), canonical)
        self.artifacts.put_file(report_key(sha256), report)
        data = summary_to_json(summary, self.validator, sink.written)
        self.artifacts.put_bytes(summary_key(sha256), json.dumps(data).encode())
        return summary

    def stored_summary(self, sha256: str) -> Summary | None:
        """The stored summary, if these bytes were validated by this validator."""
        try:
            data = json.loads(self.artifacts.get_bytes(summary_key(sha256)))
        except ArtifactNotFound:
            return None
        return summary_from_json(data) if data.get("validator") == self.validator else None

    def delete(self, sha256: str) -> int:
        return self.artifacts.delete_prefix(prefix(sha256))
