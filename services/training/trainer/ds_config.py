"""The DeepSpeed config of a run, generated from its hyperparameters."""

from services.training.trainer.config import Hyperparameters

# DeepSpeed prints its own progress every `steps_per_print` steps; rank 0 reports instead.
_QUIET = 10**9


def deepspeed_config(hp: Hyperparameters, bf16: bool) -> dict:
    """DeepSpeed JSON config: global batch over ranks, ZeRO stage, clipping, precision.

    `bf16` says whether the hardware has it; the job's own `bf16` choice wins where set.
    """
    bf16 = bf16 if hp.bf16 is None else hp.bf16
    zero: dict = {"stage": hp.zero_stage}
    if hp.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
    if hp.offload_param:
        zero["offload_param"] = {"device": "cpu", "pin_memory": True}
    if hp.zero_stage == 3:
        # Lets rank 0 gather the partitioned weights into one state dict for saving.
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {
        "train_batch_size": hp.batch_size,
        "train_micro_batch_size_per_gpu": hp.micro_batch_size,
        "gradient_accumulation_steps": hp.gradient_accumulation_steps,
        "gradient_clipping": hp.max_grad_norm,
        "zero_optimization": zero,
        # The client AdamW must stay: DeepSpeed's CPU Adam needs a compiled extension.
        "zero_force_ds_cpu_optimizer": False,
        "bf16": {"enabled": bf16},
        "fp16": {"enabled": False},
        "steps_per_print": _QUIET,
        "wall_clock_breakdown": False,
    }
