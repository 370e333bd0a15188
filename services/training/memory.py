"""Will a job fit? Memory per device for weights, gradients, optimizer states and activations.

The model states follow the ZeRO paper's accounting (mixed precision Adam: 2 bytes of weights,
2 of gradients and 12 of fp32 master weights and moments per trainable parameter; fp32 without
a GPU), partitioned over the ranks by stage and moved to host memory by offload. Activations
follow Korthikanti et al. (about 34 bytes per token, hidden unit and layer at 16-bit, 2 with
activation checkpointing) plus the logits, which dominate for large vocabularies.
"""

from dataclasses import dataclass, field

from services.training.trainer.config import Hyperparameters

GIB = 1024**3
# CUDA context, NCCL buffers, allocator fragmentation: kept free on every GPU.
GPU_RESERVE_BYTES = 2 * GIB
LORA_MODULES_PER_LAYER = 7  # q, k, v, o, gate, up, down projections


@dataclass(frozen=True)
class ModelShape:
    num_parameters: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    vocab_size: int

    @classmethod
    def from_config(cls, config: dict, num_parameters: int) -> "ModelShape":
        hidden = int(config.get("hidden_size", 0))
        return cls(num_parameters=num_parameters, hidden_size=hidden,
                   intermediate_size=int(config.get("intermediate_size", 4 * hidden)),
                   num_layers=int(config.get("num_hidden_layers", 0)),
                   vocab_size=int(config.get("vocab_size", 0)))

    def lora_parameters(self, r: int) -> int:
        """Adapter parameters on every linear layer of each block (PEFT's all-linear)."""
        h, i = self.hidden_size, self.intermediate_size
        per_layer = r * (4 * 2 * h + 3 * (h + i))
        return per_layer * self.num_layers


@dataclass(frozen=True)
class Estimate:
    fits: bool
    per_device_bytes: int
    device_bytes: int
    host_bytes: int  # offloaded states per node
    breakdown: dict[str, int] = field(default_factory=dict)
    trainable_parameters: int = 0
    suggestion: str = ""


def estimate(shape: ModelShape, hp: Hyperparameters, device_bytes: int,
             mixed_precision: bool, gpu: bool) -> Estimate:
    """Bytes one device needs for `hp` on a model of `shape`."""
    p = shape.num_parameters
    trainable = shape.lora_parameters(hp.lora_r) if hp.lora_r else p
    ranks = hp.num_gpus * hp.num_nodes
    weight_b, grad_b, optim_b = (2, 2, 12) if mixed_precision else (4, 4, 8)
    weights = p * weight_b + (trainable * weight_b if hp.lora_r else 0)
    grads, optimizer = trainable * grad_b, trainable * optim_b
    stage = hp.zero_stage
    if stage >= 1:
        optimizer //= ranks
    if stage >= 2:
        grads //= ranks
    if stage >= 3:
        weights //= ranks
    host = 0
    if hp.offload_optimizer:
        host += optimizer * ranks // max(hp.num_nodes, 1)
        optimizer = 0
    if hp.offload_param:
        host += weights * ranks // max(hp.num_nodes, 1)
        weights = 0
    tokens = hp.micro_batch_size * hp.model_max_length
    per_token_layer = 2 if hp.gradient_checkpointing else 34
    act_b = 2 if mixed_precision else 4
    activations = tokens * shape.hidden_size * shape.num_layers * per_token_layer * act_b // 2
    logits = tokens * shape.vocab_size * 4 * 2  # fp32 logits and their gradient
    breakdown = {"parameters": weights, "gradients": grads, "optimizer": optimizer,
                 "activations": activations + logits}
    total = sum(breakdown.values())
    budget = device_bytes - (GPU_RESERVE_BYTES if gpu else 0)
    return Estimate(fits=total <= budget, per_device_bytes=total, device_bytes=device_bytes,
                    host_bytes=host, breakdown=breakdown, trainable_parameters=trainable)


# Tried in order when a job does not fit: the cheapest change that makes it fit is suggested.
_REMEDIES: tuple[tuple[str, dict], ...] = (
    ("zero_stage=2", {"zero_stage": 2}),
    ("zero_stage=3", {"zero_stage": 3}),
    ("zero_stage=3 with gradient_checkpointing=true",
     {"zero_stage": 3, "gradient_checkpointing": True}),
    ("zero_stage=3 with offload_optimizer=true and gradient_checkpointing=true",
     {"zero_stage": 3, "offload_optimizer": True, "gradient_checkpointing": True}),
    ("zero_stage=3 with offload_optimizer=true, offload_param=true and "
     "gradient_checkpointing=true",
     {"zero_stage": 3, "offload_optimizer": True, "offload_param": True,
      "gradient_checkpointing": True}),
)


def check(shape: ModelShape, hp: Hyperparameters, device_bytes: int, mixed_precision: bool,
          gpu: bool) -> Estimate:
    """The estimate, with a suggestion of what would fit when it does not."""
    est = estimate(shape, hp, device_bytes, mixed_precision, gpu)
    if est.fits:
        return est
    for label, change in _REMEDIES:
        if change.get("zero_stage", 0) < hp.zero_stage:
            continue
        tried = hp.model_copy(update={**change, "zero_stage": max(change["zero_stage"],
                                                                   hp.zero_stage)})
        if tried == hp:
            continue
        alt = estimate(shape, tried, device_bytes, mixed_precision, gpu)
        if alt.fits:
            return _with(est, f"it would fit with {label} (about "
                              f"{alt.per_device_bytes / GIB:.1f} GiB per device)")
    if est.breakdown["activations"] > est.per_device_bytes / 2:
        tokens = hp.micro_batch_size * hp.model_max_length
        return _with(est, f"activations of {hp.micro_batch_size} examples x "
                          f"{hp.model_max_length} tokens ({tokens:,} per device and micro "
                          "batch) dominate: raise gradient_accumulation_steps or num_gpus "
                          "(smaller micro batches), lower model_max_length, or set "
                          "gradient_checkpointing=true")
    return _with(est, "no ZeRO stage or offload makes it fit on this many devices; raise "
                      "num_gpus, use LoRA (lora_r > 0) or lower model_max_length")


def _with(est: Estimate, suggestion: str) -> Estimate:
    return Estimate(est.fits, est.per_device_bytes, est.device_bytes, est.host_bytes,
                    est.breakdown, est.trainable_parameters, suggestion)


def describe(est: Estimate) -> str:
    parts = ", ".join(f"{k} {v / GIB:.1f}" for k, v in est.breakdown.items())
    return (f"needs about {est.per_device_bytes / GIB:.1f} GiB per device ({parts} GiB) but a "
            f"device has {est.device_bytes / GIB:.1f} GiB; {est.suggestion}")
