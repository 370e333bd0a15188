"""Statistics from the cached arrays, and OpenAI's "auto" epochs."""

import numpy as np
import pytest

from services.dataset.stats import auto_epochs, compute


@pytest.mark.parametrize("n, epochs", [(1, 25), (3, 25), (10, 10), (33, 4), (34, 3),
                                       (8333, 3), (8334, 2), (12_500, 2), (30_000, 1)])
def test_auto_epochs_aims_at_3_more_for_small_fewer_for_large_sets(n, epochs):
    assert auto_epochs(n) == epochs


def test_stats_of_a_hand_computed_case():
    # Three examples of 10, 30 and 50 tokens, cut to 40: the last loses 10 tokens.
    offsets = np.array([0, 10, 40, 80])
    full = np.array([10, 30, 50])
    trained = np.array([4, 0, 20])
    meta = {"max_length": 40, "num_examples": 3, "num_turns": 7, "num_characters": 321,
            "truncated_examples": [{"example": 2, "id": "line-3", "tokens": 50,
                                    "trained_tokens": 20}]}
    s = compute(meta, offsets, full, trained)
    assert s["tokens_per_example"] == {"min": 10, "mean": 30.0, "p50": 30.0, "p95": 48.0,
                                       "max": 50}
    assert (s["total_tokens"], s["assistant_tokens"], s["num_truncated"]) == (90, 24, 1)
    assert s["num_without_trained_tokens"] == 1
    assert s["tokens_per_epoch"] == 50  # the example with nothing to learn is skipped
    assert (s["suggested_epochs"], s["estimated_trained_tokens"]) == (25, 1250)
    assert s["warnings"] == ['example 3 (id "line-3"): 50 tokens, over model_max_length 40; '
                             "it will be truncated"]
