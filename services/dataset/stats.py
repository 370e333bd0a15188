"""Token statistics of a tokenized dataset, and OpenAI's "auto" number of epochs."""

import math

import numpy as np

# OpenAI's rule for n_epochs="auto": aim at 3 epochs, but see at least ~100 and at most
# ~25,000 examples in all, within 1..25 epochs.
DEFAULT_EPOCHS, MIN_EPOCHS, MAX_EPOCHS = 3, 1, 25
MIN_TARGET_EXAMPLES, MAX_TARGET_EXAMPLES = 100, 25_000


def auto_epochs(num_examples: int) -> int:
    """Suggested epochs for a training set of this many examples."""
    if num_examples <= 0:
        return DEFAULT_EPOCHS
    if num_examples * DEFAULT_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_EPOCHS, math.ceil(MIN_TARGET_EXAMPLES / num_examples))
    if num_examples * DEFAULT_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_EPOCHS, MAX_TARGET_EXAMPLES // num_examples)
    return DEFAULT_EPOCHS


def distribution(values: np.ndarray) -> dict:
    """min / mean / p50 / p95 / max (percentiles interpolated linearly, as numpy does)."""
    if len(values) == 0:
        return {"min": 0, "mean": 0.0, "p50": 0.0, "p95": 0.0, "max": 0}
    return {"min": int(values.min()), "mean": float(values.mean()),
            "p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95)),
            "max": int(values.max())}


def compute(meta: dict, offsets: np.ndarray, full_lengths: np.ndarray,
            trained_counts: np.ndarray) -> dict:
    """FileStats fields (but the file and model names) from the cached arrays."""
    max_length = meta["max_length"]
    lengths = np.diff(offsets)
    learnable = trained_counts > 0
    tokens_per_epoch = int(lengths[learnable].sum())
    epochs = auto_epochs(int(learnable.sum()))
    return {
        "model_max_length": max_length,
        "num_examples": meta["num_examples"],
        "num_turns": meta["num_turns"],
        "num_characters": meta["num_characters"],
        "tokens_per_example": distribution(full_lengths),
        "total_tokens": int(full_lengths.sum()),
        "assistant_tokens": int(trained_counts.sum()),
        "num_truncated": int((full_lengths > max_length).sum()),
        "num_without_trained_tokens": int((~learnable).sum()),
        "tokens_per_epoch": tokens_per_epoch,
        "suggested_epochs": epochs,
        "estimated_trained_tokens": tokens_per_epoch * epochs,
        "warnings": [_truncation_warning(e, max_length) for e in meta["truncated_examples"]],
    }


def _truncation_warning(example: dict, max_length: int) -> str:
    text = (f'example {example["example"] + 1} (id "{example["id"]}"): {example["tokens"]} '
            f"tokens, over model_max_length {max_length}; it will be truncated")
    if example["trained_tokens"] == 0:
        text += ", leaving no assistant token to learn from (training skips it)"
    return text
