"""Hyperparameter checks of a fine-tuning job: every bad value named, all reported at once."""

import pytest

from services.common.errors import TuneForgeError
from services.training.trainer.config import Hyperparameters
from services.training.validation import raise_problems, resolve_hyperparameters, suffix_problems

DEFAULTS = Hyperparameters()


def resolve(context_length: int = 2048, max_ranks: int = 2, **requested):
    return resolve_hyperparameters(requested, DEFAULTS, context_length, max_ranks)


@pytest.mark.parametrize("name, value", [
    ("n_epochs", 0), ("n_epochs", -3), ("batch_size", 0), ("learning_rate", 0.0),
    ("learning_rate", -1e-4), ("learning_rate", float("nan")), ("learning_rate", float("inf")),
    ("zero_stage", -1), ("zero_stage", 4), ("num_gpus", 0), ("model_max_length", 0),
    ("lr_scheduler_type", "exponential"), ("warmup_ratio", -0.1), ("warmup_ratio", 1.0),
    ("weight_decay", -0.01), ("max_grad_norm", -1.0), ("lora_r", -8), ("logging_steps", 0),
])
def test_each_invalid_value_is_refused_with_its_name(name, value):
    hp, problems = resolve(**{name: value})
    assert hp is None
    assert [param for param, _ in problems] == [f"hyperparameters.{name}"]
    assert repr(value) in problems[0][1]


def test_all_bad_values_are_reported_in_one_error_naming_the_first():
    _, problems = resolve(n_epochs=0, learning_rate=-1.0, zero_stage=7,
                          lr_scheduler_type="step")
    with pytest.raises(TuneForgeError) as e:
        raise_problems(problems)
    assert e.value.code == "invalid_argument"
    assert e.value.param == "hyperparameters.n_epochs"
    for name in ("n_epochs", "learning_rate", "zero_stage", "lr_scheduler_type"):
        assert f"hyperparameters.{name}" in e.value.message
    assert "'cosine', 'linear' or 'constant'" in e.value.message


def test_unset_values_take_the_defaults_and_the_result_is_complete():
    hp, problems = resolve(n_epochs=5, learning_rate=3e-3)
    assert problems == []
    assert hp.n_epochs == 5 and hp.learning_rate == 3e-3
    assert hp.batch_size == DEFAULTS.batch_size and hp.zero_stage == DEFAULTS.zero_stage


def test_default_max_length_is_capped_at_the_models_context():
    hp, _ = resolve(context_length=512)
    assert hp.model_max_length == 512


def test_explicit_max_length_beyond_the_models_context_is_refused():
    _, problems = resolve(context_length=512, model_max_length=1024)
    assert problems == [("hyperparameters.model_max_length",
                         "must be at most the model's context length 512 (got 1024)")]


def test_batch_size_must_split_evenly_over_the_ranks():
    _, problems = resolve(batch_size=5, num_gpus=2)
    assert [p for p, _ in problems] == ["hyperparameters.batch_size"]
    assert "multiple of num_gpus=2" in problems[0][1]


def test_more_ranks_than_the_host_has_are_refused():
    _, problems = resolve(max_ranks=2, num_gpus=4, batch_size=8)
    assert [p for p, _ in problems] == ["hyperparameters.num_gpus"]
    assert "at most 2" in problems[0][1]


def test_combined_rules_still_run_beside_field_errors():
    _, problems = resolve(n_epochs=0, batch_size=3, num_gpus=2)
    assert [p for p, _ in problems] == ["hyperparameters.n_epochs", "hyperparameters.batch_size"]


@pytest.mark.parametrize("suffix", ["x" * 41, "has space", "ünïcode", "a/b"])
def test_bad_suffix_is_refused(suffix):
    assert [p for p, _ in suffix_problems(suffix)] == ["suffix"]


@pytest.mark.parametrize("suffix", ["", "xiaozhi", "my_model-2", "x" * 40])
def test_good_suffix_is_accepted(suffix):
    assert suffix_problems(suffix) == []
