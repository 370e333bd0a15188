"""The train/validation split is fixed by the ids, the fraction and the seed alone."""

import numpy as np
import pytest

from services.common.errors import TuneForgeError
from services.dataset.split import record_key, split_indices


def keys(ids):
    return np.array([record_key(i) for i in ids], dtype=np.uint64)


def test_split_holds_out_the_rounded_fraction_and_covers_every_example():
    train, valid = split_indices(keys(map(str, range(1000))), 0.1, seed=42)
    assert len(valid) == 100 and len(train) == 900
    assert sorted([*train, *valid]) == list(range(1000))


def test_split_is_the_same_for_the_same_seed_and_differs_for_another():
    k = keys(map(str, range(200)))
    assert np.array_equal(split_indices(k, 0.2, 1)[1], split_indices(k, 0.2, 1)[1])
    assert not np.array_equal(split_indices(k, 0.2, 1)[1], split_indices(k, 0.2, 2)[1])


def test_a_record_stays_on_its_side_whatever_the_order_of_the_file():
    ids = [f"rec-{n}" for n in range(300)]
    _, valid = split_indices(keys(ids), 0.25, 3)
    shuffled = ids[::-1]
    _, valid_shuffled = split_indices(keys(shuffled), 0.25, 3)
    assert {ids[i] for i in valid} == {shuffled[i] for i in valid_shuffled}


def test_tiny_files_keep_one_example_on_each_side():
    train, valid = split_indices(keys(["a", "b"]), 0.01, 0)
    assert (len(train), len(valid)) == (1, 1)


@pytest.mark.parametrize("fraction", [0, 1, -0.5, 1.5])
def test_fraction_outside_0_1_is_refused(fraction):
    with pytest.raises(TuneForgeError) as e:
        split_indices(keys(["a", "b"]), fraction, 0)
    assert (e.value.code, e.value.param) == ("invalid_argument", "validation_split")
    assert e.value.message == f"validation_split must be between 0 and 1, not {fraction}."
