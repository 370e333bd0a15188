"""The memory check against the ZeRO paper's own numbers, and its advice."""

from services.training.memory import GIB, ModelShape, check, estimate
from services.training.trainer.config import Hyperparameters

# The ZeRO paper's example (Rajbhandari et al., 2020, figure 1): 7.5B parameters, 64 GPUs.
PAPER = ModelShape(num_parameters=7_500_000_000, hidden_size=4096, intermediate_size=16384,
                   num_layers=32, vocab_size=32000)


def states_gb(stage: int) -> float:
    hp = Hyperparameters(zero_stage=stage, num_gpus=64, batch_size=64, model_max_length=16)
    est = estimate(PAPER, hp, 80 * GIB, mixed_precision=True, gpu=True)
    b = est.breakdown
    return (b["parameters"] + b["gradients"] + b["optimizer"]) / 1e9


def test_model_states_per_gpu_match_the_zero_paper():
    assert round(states_gb(0)) == 120
    assert round(states_gb(1), 1) == 31.4
    assert round(states_gb(2), 1) == 16.6
    assert round(states_gb(3), 1) == 1.9


def test_offload_moves_states_to_host_memory():
    hp = Hyperparameters(zero_stage=3, num_gpus=8, batch_size=8, offload_optimizer=True,
                         offload_param=True)
    est = estimate(PAPER, hp, 80 * GIB, mixed_precision=True, gpu=True)
    assert est.breakdown["optimizer"] == est.breakdown["parameters"] == 0
    assert est.host_bytes == 7_500_000_000 * (12 + 2)


def test_lora_trains_a_small_fraction_and_needs_no_gradients_for_the_base():
    hp = Hyperparameters(zero_stage=0, num_gpus=1, batch_size=1, lora_r=16)
    est = estimate(PAPER, hp, 80 * GIB, mixed_precision=True, gpu=True)
    assert 0 < est.trainable_parameters < PAPER.num_parameters // 100
    assert est.breakdown["gradients"] == est.trainable_parameters * 2


def test_a_job_that_does_not_fit_gets_the_cheapest_change_that_does():
    hp = Hyperparameters(zero_stage=0, num_gpus=8, batch_size=8, model_max_length=2048)
    est = check(PAPER, hp, 80 * GIB, mixed_precision=True, gpu=True)
    assert not est.fits
    assert est.suggestion.startswith("it would fit with zero_stage=2 ")
    tiny = Hyperparameters(zero_stage=0, num_gpus=1, batch_size=1, model_max_length=64)
    hopeless = check(PAPER, tiny, 1 * GIB, mixed_precision=True, gpu=False)
    assert not hopeless.fits and "raise num_gpus, use LoRA" in hopeless.suggestion


def test_activations_that_dominate_get_advice_about_the_micro_batch():
    hp = Hyperparameters(zero_stage=3, num_gpus=1, batch_size=4096, model_max_length=2048)
    est = check(PAPER, hp, 80 * GIB, mixed_precision=True, gpu=True)
    assert not est.fits
    assert "activations of 4096 examples x 2048 tokens" in est.suggestion
    assert "raise gradient_accumulation_steps" in est.suggestion
