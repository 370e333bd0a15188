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
    eval_prompts: list[str] | None = Field(
        default=None, max_length=20,
        description="TuneForge: asked of the base and the fine-tuned model after training; the "
        "answers are stored with the job (default: a few prompts of the validation file).")
    auto_deploy: bool = Field(
        default=False, description="TuneForge: deploy the fine-tuned model when the job succeeds.")
    alias: str | None = Field(
        default=None, max_length=64,
        description="TuneForge: move this alias of the fine-tuned model's name to it on success.")

    def to_pb(self) -> pb.CreateJobRequest:
        chosen = self.chosen_hyperparameters()
        req = pb.CreateJobRequest(
            model=self.model, training_file=self.training_file,
            validation_file=self.validation_file or "", suffix=self.suffix or "",
            hyperparameters=chosen.to_pb() if chosen else pb.Hyperparameters(),
            metadata=self.metadata or {}, eval_prompts=self.eval_prompts or [],
            auto_deploy=self.auto_deploy, alias=self.alias or "")
        if self.seed is not None:
            req.seed = self.seed
        return req

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


class Comparison(BaseModel):
    prompt: str
    base: str = Field(description="The base model's answer.")
    fine_tuned: str = Field(description="The fine-tuned model's answer.")


class Evaluation(BaseModel):
    metrics: dict[str, float] = Field(description="valid_loss, valid_mean_token_accuracy, ...")
    comparisons: list[Comparison] = Field(description="Before/after answers to eval_prompts.")


class FineTuningJob(BaseModel):
    id: str
    object: Literal["fine_tuning.job"] = "fine_tuning.job"
    created_at: int
    finished_at: int | None = None
    model: str
    fine_tuned_model: str | None = None
    organization_id: str = "tuneforge"
    status: str = Field(description="queued, running, paused, succeeded, failed or "
                                    "cancelled.")
    training_file: str
    validation_file: str | None = None
    hyperparameters: dict[str, Any] = Field(description="Resolved hyperparameters.")
    result_files: list[str] = Field(default_factory=list)
    trained_tokens: int | None = None
    seed: int
    error: JobError | None = None
    metadata: dict[str, str] | None = None
    estimated_finish: int | None = Field(default=None, description="Unix seconds, if running.")
    step: int = Field(default=0, description="Optimizer steps done (continues after resume).")
    total_steps: int = Field(default=0, description="Optimizer steps of the whole run.")
    eval_prompts: list[str] | None = None
    evaluation: Evaluation | None = Field(
        default=None, description="After training: validation metrics, before/after answers.")
    auto_deploy: bool = False
    alias: str | None = None
    deployment: str | None = Field(default=None, description="Created by auto_deploy.")

    @classmethod
    def from_pb(cls, j: pb.Job) -> "FineTuningJob":
        ev = j.evaluation if j.HasField("evaluation") else None
        return cls(
            estimated_finish=j.estimated_finish or None, step=j.step, total_steps=j.total_steps,
            eval_prompts=list(j.eval_prompts) or None, auto_deploy=j.auto_deploy,
            alias=j.alias or None, deployment=j.deployment or None,
            evaluation=Evaluation(metrics=dict(ev.metrics), comparisons=[
                Comparison(prompt=c.prompt, base=c.base, fine_tuned=c.fine_tuned)
                for c in ev.comparisons]) if ev is not None else None,
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


class Checkpoint(BaseModel):
    id: str
    object: Literal["fine_tuning.job.checkpoint"] = "fine_tuning.job.checkpoint"
    created_at: int
    fine_tuned_model_checkpoint: str = Field(description="Deployable model id.")
    fine_tuning_job_id: str
    step_number: int
    metrics: dict[str, float] = Field(description="step, train_loss, valid_loss, ...")

    @classmethod
    def from_pb(cls, c: pb.Checkpoint) -> "Checkpoint":
        return cls(id=c.id, created_at=c.created_at,
                   fine_tuned_model_checkpoint=c.fine_tuned_model_checkpoint,
                   fine_tuning_job_id=c.job_id, step_number=c.step_number,
                   metrics={"step": float(c.step_number), **dict(c.metrics)})


class MemoryEstimate(BaseModel):
    object: Literal["fine_tuning.job.estimate"] = "fine_tuning.job.estimate"
    fits: bool
    per_device_gib: float = Field(description="Parameters, gradients, optimizer, activations.")
    device_gib: float = Field(description="Memory of one training device.")
    cpu_offload_gib: float = Field(description="Host memory the offloaded states take per node.")
    breakdown_gib: dict[str, float]
    trainable_parameters: int
    suggestion: str | None = Field(default=None, description="What would fit, when it does not.")

    @classmethod
    def from_pb(cls, e: pb.MemoryEstimate) -> "MemoryEstimate":
        return cls(fits=e.fits, per_device_gib=round(e.per_device_gib, 3),
                   device_gib=round(e.device_gib, 3), cpu_offload_gib=round(e.cpu_offload_gib, 3),
                   breakdown_gib={k: round(v, 3) for k, v in e.breakdown_gib.items()},
                   trainable_parameters=e.trainable_parameters, suggestion=e.suggestion or None)


class JobLogs(BaseModel):
    object: Literal["fine_tuning.job.logs"] = "fine_tuning.job.logs"
    job_id: str
    text: str = Field(description="The last lines of the ranks' output.")
    truncated: bool = Field(description="Older lines were left out.")


class Agent(BaseModel):
    object: Literal["fine_tuning.agent"] = "fine_tuning.agent"
    id: str
    started_at: int
    seen_at: int = Field(description="Unix seconds of its last heartbeat.")
    gpus: int
    gpu_memory_gib: float = Field(description="Of one GPU.")
    host_memory_gib: float
    cpu_count: int
    bf16: bool
    max_ranks: int = Field(description="Most ranks (num_gpus) one job may use on it.")
    max_jobs: int
    running: list[str] = Field(description="Jobs it trains now.")

    @classmethod
    def from_pb(cls, a: pb.Agent) -> "Agent":
        return cls(id=a.id, started_at=a.started_at, seen_at=a.seen_at, gpus=a.gpus,
                   gpu_memory_gib=round(a.gpu_memory_gib, 2),
                   host_memory_gib=round(a.host_memory_gib, 2), cpu_count=a.cpu_count,
                   bf16=a.bf16, max_ranks=a.max_ranks, max_jobs=a.max_jobs,
                   running=list(a.running))
