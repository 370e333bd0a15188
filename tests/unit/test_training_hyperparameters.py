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
    ("learning_rate_multiplier", 0.0), ("adam_beta1", 1.0), ("adam_beta2", -0.1),
    ("adam_epsilon", 0.0), ("gradient_accumulation_steps", 0), ("per_device_train_batch_size", 0),
    ("save_strategy", "hourly"), ("save_steps", 0), ("save_total_limit", 0), ("lora_alpha", 0),
    ("lora_dropout", 1.0), ("lora_target_modules", "q_proj, v_proj"), ("num_nodes", 0),
    ("gradient_checkpointing", "maybe"),
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
    assert "multiple of num_gpus x gradient_accumulation_steps = 2" in problems[0][1]


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


def test_learning_rate_multiplier_scales_the_default_learning_rate():
    hp, problems = resolve(learning_rate_multiplier=2.0)
    assert problems == [] and hp.learning_rate == pytest.approx(2 * DEFAULTS.learning_rate)


def test_learning_rate_and_its_multiplier_together_conflict():
    hp, problems = resolve(learning_rate=1e-4, learning_rate_multiplier=2.0)
    assert hp is None
    assert problems == [("hyperparameters.learning_rate_multiplier",
                         "conflicts with learning_rate; set only one of them")]


def test_per_device_batch_size_sets_the_global_batch_over_ranks_and_accumulation():
    hp, problems = resolve(per_device_train_batch_size=3, num_gpus=2,
                           gradient_accumulation_steps=4)
    assert problems == [] and hp.batch_size == 24 and hp.micro_batch_size == 3


def test_per_device_batch_size_that_disagrees_with_batch_size_is_refused():
    _, problems = resolve(per_device_train_batch_size=3, num_gpus=2, batch_size=8)
    assert [p for p, _ in problems] == ["hyperparameters.per_device_train_batch_size"]
    assert "= 6 conflicts with batch_size=8" in problems[0][1]


def test_resolved_job_records_its_per_device_batch_size():
    hp, _ = resolve(batch_size=8, num_gpus=2, gradient_accumulation_steps=2)
    assert hp.per_device_train_batch_size == 2


@pytest.mark.parametrize("requested, param, words", [
    ({"lora_alpha": 32}, "lora_alpha", "applies only to LoRA"),
    ({"lora_target_modules": "q_proj"}, "lora_target_modules", "applies only to LoRA"),
    ({"offload_param": True, "zero_stage": 2}, "offload_param", "needs zero_stage=3"),
    ({"offload_optimizer": True, "zero_stage": 0}, "offload_optimizer", "needs zero_stage 1"),
])
def test_conflicting_values_are_refused_naming_the_parameter(requested, param, words):
    hp, problems = resolve(**requested)
    assert [p for p, _ in problems] == [f"hyperparameters.{param}"]
    assert words in problems[0][1]


def test_lora_settings_with_a_lora_rank_are_accepted():
    hp, problems = resolve(lora_r=8, lora_alpha=32, lora_dropout=0.1,
                           lora_target_modules="q_proj,v_proj")
    assert problems == [] and hp.lora_target_modules == "q_proj,v_proj"


def test_every_bad_value_of_a_large_request_is_reported_at_once():
    _, problems = resolve(n_epochs=0, adam_beta1=2.0, save_strategy="x", num_nodes=0,
                          offload_param=True, lora_alpha=8)
    assert sorted(p for p, _ in problems) == sorted(f"hyperparameters.{n}" for n in (
        "n_epochs", "adam_beta1", "save_strategy", "num_nodes", "offload_param", "lora_alpha"))
