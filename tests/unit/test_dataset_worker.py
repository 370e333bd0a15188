"""Tokenizing a file in byte ranges, then joining the parts, equals tokenizing it whole."""

import json

import numpy as np
import pytest

from services.dataset import worker
from services.dataset.formats import canonical_line
from services.dataset.tokenized import ARRAYS
from services.registry.tiny_model import build_tiny_model


def _canonical(path, n: int, trailing_newline: bool = True) -> list[str]:
    ids = [f"r{i}" for i in range(n)]
    data = b"".join(canonical_line(rid, [
        {"role": "user", "content": f"问题 {i} " * (i % 7 + 1)},
        {"role": "assistant", "content": f"answer {i}. " * (i % 5 + 1)}])
        for i, rid in enumerate(ids))
    path.write_bytes(data if trailing_newline else data.rstrip(b"\n"))
    return ids


@pytest.mark.parametrize("trailing_newline", [True, False])
def test_ranges_read_every_record_once_in_order(tmp_path, trailing_newline, monkeypatch):
    monkeypatch.setattr(worker, "_READ", 64)  # many blocks, lines cut across them
    path = tmp_path / "canonical.jsonl"
    ids = _canonical(path, 50, trailing_newline)
    for parts in (1, 3, 7):
        got = [rid for start, stop in worker.split_ranges(path, parts)
               for rid, _ in worker.read_canonical(path, start=start, stop=stop)]
        assert got == ids
    assert [rid for rid, _ in worker.read_canonical(path, limit=4)] == ids[:4]


def test_parts_merged_equal_the_file_tokenized_whole(tmp_path):
    model = build_tiny_model(tmp_path.parent / "dataset-worker-models" / "tiny-qwen2")
    path = tmp_path / "canonical.jsonl"
    _canonical(path, 300)
    whole = tmp_path / "whole"
    whole.mkdir()
    expected = worker.build_tokenized(str(path), str(model), 64, str(whole), {})
    parts = []
    for k, (start, stop) in enumerate(worker.split_ranges(path, 3)):
        parts.append(tmp_path / f"part-{k}")
        parts[-1].mkdir()
        worker.build_tokenized(str(path), str(model), 64, str(parts[-1]), {}, start, stop)
    merged = tmp_path / "merged"
    merged.mkdir()
    meta = worker.merge_parts([str(p) for p in parts], str(merged))
    assert meta == expected
    assert expected["truncated_examples"], "max_length 64 cuts some examples"
    for name in ARRAYS:
        assert np.array_equal(np.load(merged / f"{name}.npy"), np.load(whole / f"{name}.npy"))
    assert json.loads((merged / "meta.json").read_text()) == expected
