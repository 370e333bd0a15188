"""Learning-rate schedules stepped once per optimizer step."""

import pytest

from services.training.trainer.schedule import lr_multiplier, warmup_steps


def factors(kind: str, total: int, warmup: int) -> list[float]:
    f = lr_multiplier(kind, total, warmup)
    return [f(step) for step in range(total)]


def test_warmup_rises_linearly_and_never_starts_at_zero():
    assert factors("constant", 10, 3)[:4] == [0.25, 0.5, 0.75, 1.0]


def test_constant_stays_at_the_peak_after_warmup():
    assert factors("constant", 10, 0) == [1.0] * 10


def test_linear_decays_from_the_peak_towards_zero():
    values = factors("linear", 10, 0)
    assert values[0] == 1.0
    assert all(a > b for a, b in zip(values, values[1:]))
    assert values[-1] == pytest.approx(0.1)


def test_cosine_decays_from_the_peak_to_near_zero_through_a_half_at_the_middle():
    values = factors("cosine", 101, 1)
    assert values[1] == 1.0
    assert values[51] == pytest.approx(0.5)
    assert all(a >= b for a, b in zip(values[1:], values[2:]))
    assert values[-1] < 0.001


def test_warmup_steps_round_up_from_the_ratio():
    assert (warmup_steps(140, 0.0), warmup_steps(140, 0.01), warmup_steps(140, 0.1)) == (0, 2, 14)


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="step"):
        lr_multiplier("step", 10, 0)
