"""The typed configuration of a training run, validated before any rank starts work."""

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LrSchedulerType = Literal["cosine", "linear", "constant"]
SaveStrategy = Literal["no", "steps", "epoch"]


class Hyperparameters(BaseModel):
    """Hyperparameters of a job; the service fills unset ones from its defaults."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    n_epochs: int = Field(default=3, ge=1, le=1000, description="Passes over the training file.")
    batch_size: int = Field(
        default=8, ge=1, le=4096,
        description="Global batch size per optimizer step; a multiple of num_gpus.",
    )
    learning_rate: float = Field(default=1e-5, gt=0, le=1, description="Peak learning rate.")
    zero_stage: int = Field(default=2, ge=0, le=3, description="DeepSpeed ZeRO stage.")
    model_max_length: int = Field(
        default=2048, ge=16, le=1_048_576,
        description="Examples are truncated to this many tokens; at most the model's context.",
    )
    num_gpus: int = Field(
        default=1, ge=1, le=1024, description="Ranks to train on: GPUs, or CPU processes.",
    )
    lr_scheduler_type: LrSchedulerType = Field(
        default="cosine", description="Learning-rate decay after warmup.",
    )
    warmup_ratio: float = Field(
        default=0.01, ge=0, lt=1, description="Share of steps spent warming up linearly.",
    )
    weight_decay: float = Field(default=0.1, ge=0, le=10, description="AdamW weight decay.")
    max_grad_norm: float = Field(
        default=1.0, ge=0, description="Gradient clipping norm; 0 turns clipping off.",
    )
    lora_r: int = Field(
        default=0, ge=0, le=1024, description="LoRA rank; 0 means full fine-tuning.",
    )
    logging_steps: int = Field(default=1, ge=1, description="Report metrics every N steps.")
    packing: bool = Field(
        default=True,
        description="Pack each micro batch into one row with attention kept inside each "
        "conversation, instead of padding every example to the longest.",
    )

    learning_rate_multiplier: float | None = Field(
        default=None, gt=0, le=1000,
        description="OpenAI's knob: scales the default learning_rate; excludes learning_rate.",
    )
    adam_beta1: float = Field(default=0.9, ge=0, lt=1, description="AdamW beta1.")
    adam_beta2: float = Field(default=0.95, ge=0, lt=1, description="AdamW beta2.")
    adam_epsilon: float = Field(default=1e-8, gt=0, le=1, description="AdamW epsilon.")
    gradient_accumulation_steps: int = Field(
        default=1, ge=1, le=4096, description="Micro batches summed per optimizer step.",
    )
    per_device_train_batch_size: int | None = Field(
        default=None, ge=1, le=4096,
        description="Examples per rank per micro batch; batch_size / (num_gpus x accumulation) "
        "when unset.",
    )
    gradient_checkpointing: bool = Field(
        default=False, description="Recompute activations in backward to save memory.",
    )
    bf16: bool | None = Field(
        default=None, description="bfloat16 training; unset: where the GPUs support it.",
    )
    tf32: bool | None = Field(
        default=None, description="TF32 matmuls on Ampere or newer GPUs; unset: on with CUDA.",
    )
    save_strategy: SaveStrategy = Field(
        default="no", description="When to save checkpoints: never, every save_steps, each epoch.",
    )
    save_steps: int = Field(default=500, ge=1, description="Steps between 'steps' checkpoints.")
    save_total_limit: int | None = Field(
        default=None, ge=1, le=1000, description="Most checkpoints kept; older ones are deleted.",
    )
    lora_alpha: int = Field(default=16, ge=1, le=65536, description="LoRA scaling numerator.")
    lora_dropout: float = Field(default=0.05, ge=0, lt=1, description="Dropout on LoRA inputs.")
    lora_target_modules: str = Field(
        default="all-linear", pattern=r"^(all-linear|[A-Za-z0-9_.]+(,[A-Za-z0-9_.]+)*)$",
        description="'all-linear' or comma-separated module names, e.g. q_proj,v_proj.",
    )
    offload_optimizer: bool = Field(
        default=False, description="ZeRO: keep optimizer states in CPU memory (stage 1-3).",
    )
    offload_param: bool = Field(
        default=False, description="ZeRO-3: keep parameters in CPU memory.",
    )
    num_nodes: int = Field(default=1, ge=1, le=128, description="Hosts the ranks spread over.")

    @property
    def micro_batch_size(self) -> int:
        """Examples per rank per micro batch."""
        return self.batch_size // (self.num_gpus * self.gradient_accumulation_steps)


class RunConfig(BaseModel):
    """Everything one run needs; written as JSON by the service, read by every rank."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    job_id: str = Field(description="The fine-tuning job this run belongs to.")
    model_dir: Path = Field(description="Base model folder (config, weights, tokenizer).")
    train_file: Path = Field(description="Canonical chat JSONL: one {id, messages} per line.")
    output_dir: Path = Field(description="Where rank 0 saves the fine-tuned model.")
    deepspeed_config: Path = Field(description="The DeepSpeed JSON config of the run.")
    hyperparameters: Hyperparameters
    seed: int = Field(description="Seeds shuffling, dropout and initialisation.")
    valid_file: Path | None = Field(
        default=None, description="Canonical chat JSONL scored at checkpoints and at the end.")
    state_dir: Path | None = Field(
        default=None, description="DeepSpeed checkpoints (weights, optimizer, position), one "
        "folder per tag; defaults to <output_dir>/../state.")
    checkpoint_dir: Path | None = Field(
        default=None, description="Deployable model folder of each checkpoint, one per tag; "
        "defaults to <output_dir>/../checkpoints.")
    resume_tag: str | None = Field(
        default=None, description="Tag in state_dir to continue from (e.g. step-40).")
    control_file: Path | None = Field(
        default=None, description="Rank 0 pauses the run (checkpoint, exit) once this exists.")

    @property
    def states(self) -> Path:
        return self.state_dir or self.output_dir.parent / "state"

    @property
    def checkpoints(self) -> Path:
        return self.checkpoint_dir or self.output_dir.parent / "checkpoints"

    @model_validator(mode="after")
    def _inputs_exist(self) -> "RunConfig":
        missing = [f"{name} {path}" for name, path in (
            ("model_dir", self.model_dir / "config.json"),
            ("train_file", self.train_file),
            ("deepspeed_config", self.deepspeed_config),
            *((("valid_file", self.valid_file),) if self.valid_file else ()),
        ) if not path.is_file()]
        if self.resume_tag and not (self.states / self.resume_tag).is_dir():
            missing.append(f"resume_tag {self.states / self.resume_tag}")
        if missing:
            raise ValueError("missing input files: " + ", ".join(missing))
        return self

    @classmethod
    def load(cls, path: Path) -> "RunConfig":
        """Read and validate a run config file."""
        return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
