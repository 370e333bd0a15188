"""Tokenizing work, run in worker processes so the tokenizer's memory and CPU stay out of the
service process. Every function takes and returns plain values (paths, dicts)."""

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson

from services.dataset.split import record_key
from services.dataset.tokenize import ExampleTokenizer
from services.dataset.tokenized import ARRAYS, FORMAT, ArrayWriter

log = logging.getLogger(__name__)

BATCH = 2048
_READ = 4 << 20
CHECKED_PER_FILE = 32  # first examples of every file checked against the slow definition
MAX_LISTED_TRUNCATED = 20

_loaded: dict[str, ExampleTokenizer] = {}


def example_tokenizer(tokenizer_dir: str) -> ExampleTokenizer:
    """The tokenizer of a local folder, loaded once per process."""
    if tokenizer_dir not in _loaded:
        from transformers import AutoTokenizer  # imports torch: only worker processes pay it

        _loaded[tokenizer_dir] = ExampleTokenizer(AutoTokenizer.from_pretrained(tokenizer_dir))
    return _loaded[tokenizer_dir]


def read_canonical(path: Path, limit: int | None = None, start: int = 0,
                   stop: int | None = None) -> Iterator[tuple[str, list[dict]]]:
    """(id, messages) of each canonical record in bytes [start, stop), in order."""
    n = 0
    for line in _lines(path, start, stop):
        if limit is not None and n >= limit:
            return
        record = orjson.loads(line)
        n += 1
        yield record["id"], record["messages"]


def _lines(path: Path, start: int, stop: int | None) -> Iterator[bytes]:
    """The lines that start in bytes [start, stop), read a block at a time."""
    with open(path, "rb") as f:
        f.seek(start)
        left = (path.stat().st_size if stop is None else stop) - start
        rest = b""
        while left > 0 and (block := f.read(min(_READ, left))):
            left -= len(block)
            *lines, rest = (rest + block).split(b"\n")
            yield from lines
        if rest:  # a line that starts before `stop` and ends after it, or has no newline
            yield rest + f.readline().rstrip(b"\n")


def split_ranges(path: Path, parts: int) -> list[tuple[int, int]]:
    """Byte ranges of about equal size that start and end at line boundaries."""
    size = path.stat().st_size
    bounds = [0]
    with open(path, "rb") as f:
        for k in range(1, parts):
            f.seek(max(bounds[-1], size * k // parts))
            f.readline()
            bounds.append(min(size, f.tell()))
    bounds.append(size)
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a] or [(0, 0)]


def _batches(path: Path, start: int, stop: int) -> Iterator[list[tuple[str, list[dict]]]]:
    batch = []
    for item in read_canonical(path, start=start, stop=stop):
        batch.append(item)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def build_tokenized(canonical: str, tokenizer_dir: str, max_length: int, out_dir: str,
                    meta: dict, start: int = 0, stop: int | None = None) -> dict:
    """Write the tokenized arrays of bytes [start, stop) of a canonical file into `out_dir`;
    returns its meta.json (`merge_parts` joins the folders of several ranges)."""
    tokenizer = example_tokenizer(tokenizer_dir)
    out = Path(out_dir)
    writers = {name: ArrayWriter(out / f"{name}.npy", dtype) for name, dtype in ARRAYS.items()}
    writers["offsets"].append([0])
    totals = dict(num_examples=0, num_tokens=0, num_turns=0, num_characters=0,
                  num_trained_tokens=0)
    truncated: list[dict] = []
    for n, batch in enumerate(_batches(Path(canonical), start, stop)):
        conversations = [messages for _, messages in batch]
        if n == 0 and tokenizer.fast and not tokenizer.agrees(conversations[:CHECKED_PER_FILE]):
            log.warning("fast tokenization differs from the definition on %s; going slow",
                        canonical)
            tokenizer.fast = False
        examples = tokenizer.arrays(conversations, max_length)
        trained_counts = examples.trained_counts
        writers["input_ids"].append(examples.input_ids)
        writers["trained"].append(examples.trained)
        writers["offsets"].append(examples.offsets[1:] + totals["num_tokens"])
        writers["full_lengths"].append(examples.full_lengths)
        writers["trained_counts"].append(trained_counts)
        writers["record_keys"].append([record_key(rid) for rid, _ in batch])
        for i in np.flatnonzero(examples.full_lengths > max_length):
            if len(truncated) >= MAX_LISTED_TRUNCATED:
                break
            truncated.append({"example": totals["num_examples"] + int(i), "id": batch[i][0],
                              "tokens": int(examples.full_lengths[i]),
                              "trained_tokens": int(trained_counts[i])})
        totals["num_examples"] += len(batch)
        totals["num_tokens"] += int(examples.offsets[-1])
        totals["num_turns"] += sum(len(m) for m in conversations)
        totals["num_characters"] += sum(len(t["content"]) for m in conversations for t in m)
        totals["num_trained_tokens"] += int(trained_counts.sum())
    for writer in writers.values():
        writer.finish()
    meta = {"format": FORMAT, **meta, "max_length": max_length, **totals,
            "fast_path": tokenizer.fast, "truncated_examples": truncated}
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta


def merge_parts(parts: list[str], out_dir: str) -> dict:
    """Join the folders `build_tokenized` wrote for consecutive ranges into one, in order."""
    out = Path(out_dir)
    metas = [json.loads((Path(p) / "meta.json").read_text()) for p in parts]
    for name, dtype in ARRAYS.items():
        writer = ArrayWriter(out / f"{name}.npy", dtype)
        tokens = 0
        for part, meta in zip(parts, metas):
            skip = 1 if name == "offsets" and writer.count else 0  # each part starts at 0
            for values in _npy_blocks(Path(part) / f"{name}.npy", skip):
                writer.append(values + tokens if name == "offsets" else values)
            tokens += meta["num_tokens"]
        writer.finish()
    merged = dict(metas[0])
    for key in ("num_examples", "num_tokens", "num_turns", "num_characters",
                "num_trained_tokens"):
        merged[key] = sum(m[key] for m in metas)
    merged["fast_path"] = all(m["fast_path"] for m in metas)
    truncated, before = [], 0
    for meta in metas:
        truncated += [dict(e, example=e["example"] + before) for e in meta["truncated_examples"]]
        before += meta["num_examples"]
    merged["truncated_examples"] = truncated[:MAX_LISTED_TRUNCATED]
    (out / "meta.json").write_text(json.dumps(merged, indent=1))
    return merged


def _npy_blocks(path: Path, skip: int = 0, block: int = 1 << 22) -> Iterator[np.ndarray]:
    """The values of a 1-D .npy file after the first `skip`, `block` at a time: read, not
    memory-mapped, since mapped pages count towards the process's resident memory."""
    with open(path, "rb") as f:
        np.lib.format.read_magic(f)
        (count,), _, dtype = np.lib.format.read_array_header_1_0(f)
        f.seek(skip * dtype.itemsize, 1)
        for _ in range(skip, count, block):
            yield np.fromfile(f, dtype, min(block, count - skip))
            skip += block


def preview(canonical: str, tokenizer_dir: str, max_length: int, n: int) -> list[dict]:
    """The first `n` examples as segments of tokens that do or do not carry loss."""
    from services.common.chat import IGNORE_INDEX, tokenize_for_training

    tokenizer = example_tokenizer(tokenizer_dir).tokenizer
    out = []
    for record_id, messages in read_canonical(Path(canonical), n):
        example = tokenize_for_training(tokenizer, messages, max_length)
        segments: list[dict] = []
        for token, label in zip(example.input_ids, example.labels):
            trained = label != IGNORE_INDEX
            if not segments or segments[-1]["trained"] != trained:
                segments.append({"trained": trained, "token_ids": []})
            segments[-1]["token_ids"].append(token)
        for segment in segments:
            segment["text"] = tokenizer.decode(segment["token_ids"], skip_special_tokens=False)
        out.append({"id": record_id, "segments": segments, "num_tokens": len(example.input_ids),
                    "num_trained_tokens": example.num_trained_tokens,
                    "truncated": example.truncated})
    return out
