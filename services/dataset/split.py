"""Deterministic train/validation split of a file's examples, by record id and seed.

Each record id is hashed once (`record_key`, stored in the tokenized cache as record_keys.npy);
mixed with the seed, the keys rank the examples, and the `round(n * fraction)` lowest (at
least one, and never all) become validation. The split depends only on the ids, the fraction
and the seed: not on the order of the file, the rank that asks, or the machine.
"""

import hashlib

import numpy as np

from services.common.errors import invalid

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def record_key(record_id: str) -> int:
    """64-bit key of a record id."""
    return int.from_bytes(hashlib.blake2b(record_id.encode(), digest_size=8).digest(), "little")


def _mix(keys: np.ndarray, seed: int) -> np.ndarray:
    # splitmix64 of key xor a seed-derived constant: a fixed seed gives a fixed shuffle.
    with np.errstate(over="ignore"):
        z = keys.astype(np.uint64) ^ np.uint64(record_key(f"seed:{seed}"))
        z = (z + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return z ^ (z >> np.uint64(31))


def split_indices(keys: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) example indices, each sorted, for `fraction` held out."""
    if not 0 < fraction < 1:
        raise invalid(f"validation_split must be between 0 and 1, not {fraction}.",
                      "validation_split")
    n = len(keys)
    if n < 2:
        raise invalid(f"validation_split needs at least 2 examples; the file has {n}.",
                      "validation_split")
    n_valid = min(n - 1, max(1, round(n * fraction)))
    order = np.argsort(_mix(np.asarray(keys), seed), kind="stable")
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])
