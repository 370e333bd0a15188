"""Next-token choice: greedy, temperature and top-p, repeatable with a seeded generator."""

import torch

from services.inference.engines.sampling import sample_token

LOGITS = torch.tensor([1.0, 3.0, 2.9, -1.0])


def draws(temperature: float, top_p: float, seed: int, count: int = 200) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    return [sample_token(LOGITS, temperature, top_p, generator) for _ in range(count)]


def test_temperature_zero_always_takes_the_most_likely_token():
    assert set(draws(0.0, 1.0, seed=1)) == {1}


def test_top_p_below_the_top_probability_keeps_only_the_top_token():
    assert set(draws(1.0, 0.1, seed=2)) == {1}


def test_top_p_keeps_the_smallest_set_that_reaches_it():
    # Tokens 1 and 2 hold 0.93 of the mass, so 0 and 3 fall outside top_p=0.85.
    assert set(draws(1.0, 0.85, seed=3)) == {1, 2}


def test_full_sampling_reaches_every_token_and_repeats_per_seed():
    assert set(draws(2.0, 1.0, seed=4)) == {0, 1, 2, 3}
    assert draws(1.0, 1.0, seed=5) == draws(1.0, 1.0, seed=5)
    assert draws(1.0, 1.0, seed=5) != draws(1.0, 1.0, seed=6)
