"""Wire types of /v1/fine_tuning/jobs (OpenAI's fine-tuning job, plus the seed's parameters)."""

import json
from typing import Any, Literal

from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.common import Int32, Int64
from services.common.errors import TuneForgeError
from tuneforge.v1 import training_pb2 as pb

Auto = Literal["auto"]


class Hyperparameters(BaseModel):
    """OpenAI's hyperparameters and the seed's DeepSpeed ones; unset or "auto" takes defaults."""

    model_config = ConfigDict(extra="forbid")

    n_epochs: Int32 | Auto | None = Field(default=None, description="Passes over the data.")
    batch_size: Int32 | Auto | None = Field(default=None, description="Global batch size.")
    learning_rate: float | None = Field(default=None, description="Peak learning rate.")
    zero_stage: Int32 | None = Field(default=None, description="DeepSpeed ZeRO stage, 0-3.")
    model_max_length: Int32 | None = Field(default=None, description="Tokens per example.")
    num_gpus: Int32 | None = Field(default=None, description="Ranks (GPUs; CPU ranks without).")
    lr_scheduler_type: str | None = Field(default=None, description="cosine, linear, constant.")
    warmup_ratio: float | None = Field(default=None, description="Share of steps warming up.")
    weight_decay: float | None = Field(default=None, description="AdamW weight decay.")
    max_grad_norm: float | None = Field(default=None, description="Gradient clipping norm.")
    lora_r: Int32 | None = Field(default=None, description="LoRA rank; 0 for full fine-tuning.")
    logging_steps: Int32 | None = Field(default=None, description="Steps between metrics events.")
    learning_rate_multiplier: float | Auto | None = Field(
        default=None, description="Scales the default learning rate; not with learning_rate.")
    packing: bool | None = Field(default=None, description="Pack conversations, no padding.")
    adam_beta1: float | None = Field(default=None, description="AdamW beta1.")
    adam_beta2: float | None = Field(default=None, description="AdamW beta2.")
    adam_epsilon: float | None = Field(default=None, description="AdamW epsilon.")
    gradient_accumulation_steps: Int32 | None = Field(
        default=None, description="Micro batches per optimizer step.")
    per_device_train_batch_size: Int32 | None = Field(
        default=None, description="Examples per rank per micro batch.")
    gradient_checkpointing: bool | None = Field(
        default=None, description="Recompute activations to save memory.")
    bf16: bool | None = Field(default=None, description="bfloat16; unset: where supported.")
    tf32: bool | None = Field(default=None, description="TF32 matmuls on recent GPUs.")
    save_strategy: str | None = Field(default=None, description="no, steps or epoch.")
    save_steps: Int32 | None = Field(default=None, description="Steps between checkpoints.")
    save_total_limit: Int32 | None = Field(default=None, description="Checkpoints kept at most.")
    lora_alpha: Int32 | None = Field(default=None, description="LoRA alpha.")
    lora_dropout: float | None = Field(default=None, description="LoRA dropout.")
    lora_target_modules: str | list[str] | None = Field(
        default=None, description="'all-linear' or module names, e.g. [\"q_proj\", \"v_proj\"].")
    offload_optimizer: bool | None = Field(
        default=None, description="ZeRO optimizer states in CPU memory.")
    offload_param: bool | None = Field(default=None, description="ZeRO-3 parameters in CPU memory.")
    num_nodes: Int32 | None = Field(default=None, description="Hosts the ranks spread over.")

    def to_pb(self) -> pb.Hyperparameters:
        known = set(pb.Hyperparameters.DESCRIPTOR.fields_by_name)
        values = {k: v for k, v in self.model_dump(exclude_none=True).items()
                  if v != "auto" and k in known}
        if isinstance(values.get("lora_target_modules"), list):
            values["lora_target_modules"] = ",".join(values["lora_target_modules"])
        return pb.Hyperparameters(**values)


class SupervisedMethod(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hyperparameters: Hyperparameters | None = None


class Method(BaseModel):
    """OpenAI's `method`; only supervised fine-tuning is offered."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["supervised"] = Field(default="supervised", description="Fine-tuning method.")
    supervised: SupervisedMethod | None = None


class CreateFineTuningJob(BaseModel):
    model: str = Field(description="Base model to fine-tune, e.g. tiny-qwen2.")
    training_file: str = Field(description="Id of an uploaded, processed file.")
    validation_file: str | None = Field(default=None, description="Optional validation file.")
    suffix: str | None = Field(default=None, max_length=64,
                               description="Added to the fine-tuned model's name.")
    seed: Int64 | None = Field(default=None, description="Makes the run reproducible.")
    metadata: dict[str, str] | None = Field(default=None, description="Your own key/values.")
    hyperparameters: Hyperparameters | None = Field(
        default=None, description="Deprecated by OpenAI in favour of method; either works.")
    method: Method | None = Field(default=None, description="method.supervised.hyperparameters.")

    def chosen_hyperparameters(self) -> Hyperparameters | None:
        """The hyperparameters from `hyperparameters` or `method`, refusing both at once."""
        nested = self.method.supervised.hyperparameters \
            if self.method and self.method.supervised else None
        if nested is not None and self.hyperparameters is not None:
            raise TuneForgeError("invalid_argument", "Set hyperparameters or "
                                 "method.supervised.hyperparameters, not both.", "method")
        return nested or self.hyperparameters


class JobError(BaseModel):
    code: str
    message: str
    param: str | None = None


class FineTuningJob(BaseModel):
    id: str
    object: Literal["fine_tuning.job"] = "fine_tuning.job"
    created_at: int
    finished_at: int | None = None
    model: str
    fine_tuned_model: str | None = None
    organization_id: str = "tuneforge"
    status: str = Field(description="queued, running, succeeded, failed or cancelled.")
    training_file: str
    validation_file: str | None = None
    hyperparameters: dict[str, Any] = Field(description="Resolved hyperparameters.")
    result_files: list[str] = Field(default_factory=list)
    trained_tokens: int | None = None
    seed: int
    error: JobError | None = None
    metadata: dict[str, str] | None = None

    @classmethod
    def from_pb(cls, j: pb.Job) -> "FineTuningJob":
        return cls(
            id=j.id, created_at=j.created_at, finished_at=j.finished_at or None, model=j.model,
            fine_tuned_model=j.fine_tuned_model or None, status=j.status,
            training_file=j.training_file, validation_file=j.validation_file or None,
            hyperparameters=MessageToDict(j.hyperparameters, preserving_proto_field_name=True),
            trained_tokens=j.trained_tokens or None, seed=j.seed,
            error=JobError(code=j.error.code, message=j.error.message,
                           param=j.error.param or None) if j.error.code else None,
            metadata=dict(j.metadata) or None,
        )


class JobEvent(BaseModel):
    id: str
    object: Literal["fine_tuning.job.event"] = "fine_tuning.job.event"
    created_at: int
    level: str
    message: str
    type: str = Field(description="message or metrics.")
    data: dict[str, Any] | None = Field(default=None, description="Metrics: step, loss, ...")

    @classmethod
    def from_pb(cls, e: pb.JobEvent) -> "JobEvent":
        return cls(id=e.id, created_at=e.created_at, level=e.level, message=e.message,
                   type=e.type, data=json.loads(e.data_json) if e.data_json else None)
