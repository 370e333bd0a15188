"""Wire types of /v1/fine_tuning/jobs (OpenAI's fine-tuning job, plus the seed's parameters)."""

import json
from typing import Any, Literal

from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel, ConfigDict, Field

from tuneforge.v1 import training_pb2 as pb

Auto = Literal["auto"]


class Hyperparameters(BaseModel):
    """OpenAI's hyperparameters and the seed's DeepSpeed ones; unset or "auto" takes defaults."""

    model_config = ConfigDict(extra="forbid")

    n_epochs: int | Auto | None = Field(default=None, description="Passes over the data.")
    batch_size: int | Auto | None = Field(default=None, description="Global batch size.")
    learning_rate: float | None = Field(default=None, description="Peak learning rate.")
    zero_stage: int | None = Field(default=None, description="DeepSpeed ZeRO stage, 0-3.")
    model_max_length: int | None = Field(default=None, description="Tokens per example.")
    num_gpus: int | None = Field(default=None, description="Ranks (GPUs; CPU ranks without).")
    lr_scheduler_type: str | None = Field(default=None, description="cosine, linear, constant.")
    warmup_ratio: float | None = Field(default=None, description="Share of steps warming up.")
    weight_decay: float | None = Field(default=None, description="AdamW weight decay.")
    max_grad_norm: float | None = Field(default=None, description="Gradient clipping norm.")
    lora_r: int | None = Field(default=None, description="LoRA rank; 0 for full fine-tuning.")
    logging_steps: int | None = Field(default=None, description="Steps between metrics events.")

    def to_pb(self) -> pb.Hyperparameters:
        known = set(pb.Hyperparameters.DESCRIPTOR.fields_by_name)
        values = {k: v for k, v in self.model_dump(exclude_none=True).items()
                  if v != "auto" and k in known}
        return pb.Hyperparameters(**values)


class CreateFineTuningJob(BaseModel):
    model: str = Field(description="Base model to fine-tune, e.g. tiny-qwen2.")
    training_file: str = Field(description="Id of an uploaded, processed file.")
    validation_file: str | None = Field(default=None, description="Optional validation file.")
    suffix: str | None = Field(default=None, max_length=64,
                               description="Added to the fine-tuned model's name.")
    seed: int | None = Field(default=None, description="Makes the run reproducible.")
    metadata: dict[str, str] | None = Field(default=None, description="Your own key/values.")
    hyperparameters: Hyperparameters | None = None


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
