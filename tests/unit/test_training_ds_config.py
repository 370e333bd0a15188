"""The DeepSpeed config generated for a run."""

from services.training.trainer.config import Hyperparameters
from services.training.trainer.ds_config import deepspeed_config


def test_global_batch_is_split_evenly_over_the_ranks():
    cfg = deepspeed_config(Hyperparameters(batch_size=8, num_gpus=2), bf16=False)
    assert cfg["train_batch_size"] == 8
    assert cfg["train_micro_batch_size_per_gpu"] == 4
    assert cfg["gradient_accumulation_steps"] == 1


def test_zero3_gathers_full_weights_for_saving():
    cfg = deepspeed_config(Hyperparameters(zero_stage=3), bf16=False)
    assert cfg["zero_optimization"] == {
        "stage": 3, "stage3_gather_16bit_weights_on_model_save": True}


def test_lower_stages_carry_only_the_stage():
    for stage in (0, 1, 2):
        cfg = deepspeed_config(Hyperparameters(zero_stage=stage), bf16=False)
        assert cfg["zero_optimization"] == {"stage": stage}


def test_client_optimizer_is_kept_and_clipping_follows_max_grad_norm():
    cfg = deepspeed_config(Hyperparameters(max_grad_norm=0.5), bf16=False)
    assert cfg["zero_force_ds_cpu_optimizer"] is False
    assert cfg["gradient_clipping"] == 0.5


def test_precision_is_fp32_unless_bf16_is_available():
    assert deepspeed_config(Hyperparameters(), bf16=False)["bf16"] == {"enabled": False}
    assert deepspeed_config(Hyperparameters(), bf16=True)["bf16"] == {"enabled": True}
    assert deepspeed_config(Hyperparameters(), bf16=True)["fp16"] == {"enabled": False}


def test_accumulation_steps_split_the_global_batch_into_micro_batches():
    cfg = deepspeed_config(Hyperparameters(batch_size=16, num_gpus=2,
                                           gradient_accumulation_steps=4), bf16=False)
    assert (cfg["train_batch_size"], cfg["train_micro_batch_size_per_gpu"],
            cfg["gradient_accumulation_steps"]) == (16, 2, 4)


def test_offload_moves_optimizer_states_and_zero3_parameters_to_cpu():
    zero = deepspeed_config(Hyperparameters(zero_stage=3, offload_optimizer=True,
                                            offload_param=True), bf16=False)["zero_optimization"]
    assert zero["offload_optimizer"]["device"] == "cpu"
    assert zero["offload_param"]["device"] == "cpu"


def test_the_jobs_own_bf16_choice_wins_over_the_hardware_default():
    assert deepspeed_config(Hyperparameters(bf16=False), bf16=True)["bf16"] == {"enabled": False}
