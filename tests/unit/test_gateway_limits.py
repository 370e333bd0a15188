"""The per-key token bucket and generation slots."""

import pytest

from gateway.auth.limits import KeyLimits, RateLimited


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_refills_evenly_and_tells_how_long_to_wait():
    clock = Clock()
    limits = KeyLimits(per_minute=60, concurrent=1, clock=clock)
    for _ in range(60):
        limits.take("k")

    with pytest.raises(RateLimited) as refused:
        limits.take("k")
    clock.now = 1.0
    limits.take("k")

    assert refused.value.retry_after == 1


def test_keys_have_separate_budgets():
    limits = KeyLimits(per_minute=1, concurrent=1, clock=Clock())
    limits.take("a")

    limits.take("b")
    with pytest.raises(RateLimited):
        limits.take("a")


def test_released_generation_slot_can_be_taken_again():
    limits = KeyLimits(per_minute=1, concurrent=1)
    limits.acquire("k")
    with pytest.raises(RateLimited, match="limit 1"):
        limits.acquire("k")

    limits.release("k")
    limits.acquire("k")
