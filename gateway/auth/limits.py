"""Per-key limits: a token bucket of requests and a count of generations in flight."""

import math
import time
from collections.abc import Callable
from collections import defaultdict
from dataclasses import dataclass, field


class RateLimited(Exception):
    """Over a limit; `retry_after` seconds until the next request can pass."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class KeyLimits:
    per_minute: int
    concurrent: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _running: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def take(self, key_id: str) -> None:
        """Spend one request of `key_id`'s budget, refilled evenly over a minute."""
        now, rate = self.clock(), self.per_minute / 60.0
        b = self._buckets.get(key_id) or _Bucket(float(self.per_minute), now)
        b.tokens = min(float(self.per_minute), b.tokens + (now - b.stamp) * rate)
        b.stamp = now
        self._buckets[key_id] = b
        if b.tokens < 1:
            wait = max(1, math.ceil((1 - b.tokens) / rate))
            raise RateLimited(f"Rate limit of {self.per_minute} requests per minute reached "
                              f"for key {key_id}; retry in {wait}s.", wait)
        b.tokens -= 1

    def acquire(self, key_id: str) -> None:
        """Take one of `key_id`'s concurrent generation slots; `release` gives it back."""
        if self._running[key_id] >= self.concurrent:
            raise RateLimited(f"Too many concurrent generations for key {key_id} "
                              f"(limit {self.concurrent}); retry when one finishes.", 1)
        self._running[key_id] += 1

    def release(self, key_id: str) -> None:
        self._running[key_id] -= 1
