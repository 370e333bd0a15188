"""Learning-rate schedules: linear warmup, then cosine, linear or constant."""

import math
from collections.abc import Callable


def warmup_steps(total_steps: int, warmup_ratio: float) -> int:
    """Warmup length in optimizer steps."""
    return math.ceil(total_steps * warmup_ratio)


def lr_multiplier(kind: str, total_steps: int, warmup: int) -> Callable[[int], float]:
    """Factor of the peak learning rate at each optimizer step (for `LambdaLR`)."""
    if kind not in ("cosine", "linear", "constant"):
        raise ValueError(f"unknown lr_scheduler_type {kind!r}")

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if kind == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        if kind == "linear":
            return 1.0 - progress
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor
