"""The pre-tokenised form of a dataset, cached in the artifact store for training.

One folder per (content sha256, tokenizer sha256, template sha256, max_length), under the
content's prefix so it goes when the content goes:

    datasets/<sha>/tokenized/<tokenizer[:16]>-<template[:16]>-<max_length>/
        input_ids.npy       uint32 [num_tokens]   every example's ids, truncated, back to back
        trained.npy         uint8  [num_tokens]   1 where the token carries loss
        offsets.npy         int64  [n + 1]        example i is [offsets[i], offsets[i+1])
        full_lengths.npy    int32  [n]            tokens before truncation
        trained_counts.npy  int32  [n]            tokens carrying loss, after truncation
        record_keys.npy     uint64 [n]            hash of each record id, for split.py
        meta.json           written last: its presence means the folder is complete

Labels are `np.where(trained, input_ids, -100)`. Examples are in canonical order; an example
with trained_counts 0 has nothing to learn within max_length (the trainer skips it).
"""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.common.chat import IGNORE_INDEX, TokenizedExample

FORMAT = "tuneforge-tokenized-v1"
ARRAYS = {"input_ids": np.uint32, "trained": np.uint8, "offsets": np.int64,
          "full_lengths": np.int32, "trained_counts": np.int32, "record_keys": np.uint64}
SMALL_ARRAYS = ("offsets", "full_lengths", "trained_counts")  # what statistics read


def cache_prefix(content_sha256: str, tokenizer_sha256: str, template_sha256: str,
                 max_length: int) -> str:
    return (f"datasets/{content_sha256}/tokenized/"
            f"{tokenizer_sha256[:16]}-{template_sha256[:16]}-{max_length}")


class ArrayWriter:
    """Appends to one array in a raw file, then wraps it as .npy without loading it."""

    def __init__(self, path: Path, dtype):
        self.path, self.dtype, self.count = path, np.dtype(dtype), 0
        self.raw = open(path.with_suffix(".raw"), "wb")

    def append(self, values) -> None:
        data = np.asarray(values, dtype=self.dtype)
        self.raw.write(data.tobytes())
        self.count += len(data)

    def finish(self) -> None:
        self.raw.close()
        raw = self.path.with_suffix(".raw")
        with open(self.path, "wb") as out, open(raw, "rb") as src:
            header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                      "shape": (self.count,)}
            np.lib.format.write_array_header_1_0(out, header)
            shutil.copyfileobj(src, out, 1 << 20)
        raw.unlink()


@dataclass
class TokenizedDataset:
    """A cached folder opened with memory maps: nothing is read until an example is."""

    meta: dict
    arrays: dict[str, np.ndarray]

    @classmethod
    def open(cls, folder: Path, names=tuple(ARRAYS)) -> "TokenizedDataset":
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{folder} holds {meta.get('format')!r}, not {FORMAT}")
        arrays = {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in names}
        return cls(meta, arrays)

    def __len__(self) -> int:
        return len(self.arrays["offsets"]) - 1

    def example(self, i: int) -> TokenizedExample:
        """Example `i` as the trainer's TokenizedExample."""
        a, b = int(self.arrays["offsets"][i]), int(self.arrays["offsets"][i + 1])
        ids = self.arrays["input_ids"][a:b].astype(np.int64)
        labels = np.where(self.arrays["trained"][a:b] == 1, ids, IGNORE_INDEX)
        return TokenizedExample(ids.tolist(), labels.tolist(), int(self.arrays["trained_counts"][i]),
                                bool(self.arrays["full_lengths"][i] > b - a))
