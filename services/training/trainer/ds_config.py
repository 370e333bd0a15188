"""The DeepSpeed config of a run, generated from its hyperparameters."""

from services.training.trainer.config import Hyperparameters

# DeepSpeed prints its own progress every `steps_per_print` steps; rank 0 reports instead.
_QUIET = 10**9


def deepspeed_config(hp: Hyperparameters, bf16: bool) -> dict:
    """DeepSpeed JSON config: global batch over ranks, ZeRO stage, clipping, precision."""
    zero: dict = {"stage": hp.zero_stage}
    if hp.zero_stage == 3:
        # Lets rank 0 gather the partitioned weights into one state dict for saving.
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {
        "train_batch_size": hp.batch_size,
        "train_micro_batch_size_per_gpu": hp.micro_batch_size,
        "gradient_accumulation_steps": 1,
        "gradient_clipping": hp.max_grad_norm,
        "zero_optimization": zero,
        # The client AdamW must stay: DeepSpeed's CPU Adam needs a compiled extension.
        "zero_force_ds_cpu_optimizer": False,
        "bf16": {"enabled": bf16},
        "fp16": {"enabled": False},
        "steps_per_print": _QUIET,
        "wall_clock_breakdown": False,
    }
