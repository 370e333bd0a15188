"""Wire types of /v1/models: OpenAI's model object (with vLLM's parent and root), plus
TuneForge's details, which OpenAI clients keep as extra fields."""

import json
from typing import Literal

from pydantic import BaseModel, Field

from tuneforge.v1 import registry_pb2 as pb


class Lineage(BaseModel):
    base_model: str = Field(description="Model this one was fine-tuned from.")
    training_file: str = Field(description="Dataset file id.")
    training_file_sha256: str = Field(description="Content hash of the dataset.")
    validation_file: str = Field(default="", description="Validation dataset file id, if any.")
    validation_file_sha256: str = Field(default="", description="Its content hash.")
    job_id: str = Field(description="Fine-tuning job that produced it.")
    hyperparameters: dict = Field(description="Resolved hyperparameters of the job.")
    metrics: dict[str, float] = Field(
        description="e.g. train_loss, valid_loss, eval_before_<metric>, eval_after_<metric>.")
    created_by: str = Field(default="", description="Who created it.")
    merged_from: str = Field(default="", description="The LoRA adapter it was merged from.")

    @classmethod
    def from_pb(cls, lin: pb.Lineage) -> "Lineage":
        return cls(base_model=lin.base_model, training_file=lin.training_file,
                   training_file_sha256=lin.training_file_sha256,
                   validation_file=lin.validation_file,
                   validation_file_sha256=lin.validation_file_sha256, job_id=lin.job_id,
                   hyperparameters=json.loads(lin.hyperparameters_json or "{}"),
                   metrics=dict(lin.metrics), created_by=lin.created_by,
                   merged_from=lin.merged_from)


class ModelObject(BaseModel):
    id: str = Field(description="Name to send as `model`.")
    object: Literal["model"] = "model"
    created: int = Field(description="Unix seconds.")
    owned_by: str = Field(description="Who registered it.")
    parent: str | None = Field(
        default=None, description="The model it was trained from; for a LoRA adapter, the base "
                                  "it is applied to (as vLLM reports adapters).")
    root: str = Field(description="The base model at the root of the lineage.")
    kind: str = Field(description="base or fine-tuned.")
    format: str = Field(default="full", description="full weights, or a lora adapter.")
    name: str = Field(default="", description="The name its versions share.")
    version: int = Field(default=0, description="Its version within name.")
    aliases: list[str] = Field(default=[], description="Aliases of name pointing at it; send "
                                                       "`<name>@<alias>` as model to follow one.")
    architecture: str = Field(description="e.g. Qwen2ForCausalLM.")
    num_parameters: int = Field(description="Parameter count (of the adapter alone for lora).")
    context_length: int = Field(description="Maximum tokens of prompt plus completion.")
    max_model_len: int = Field(description="The same, under vLLM's name.")
    status: str = Field(description="ready, or failed (never served; see the full record).")
    lineage: Lineage | None = Field(default=None, description="Where a fine-tuned model came from.")

    @classmethod
    def fields_from_pb(cls, m: pb.Model) -> dict:
        return dict(
            id=m.id, created=m.created_at, owned_by=m.owned_by, parent=m.parent or None,
            root=m.root or m.lineage.base_model or m.parent or m.id, kind=m.kind,
            format=m.format or "full", name=m.name, version=m.version, aliases=list(m.aliases),
            architecture=m.architecture, num_parameters=m.num_parameters,
            context_length=m.context_length, max_model_len=m.context_length, status=m.status,
            lineage=Lineage.from_pb(m.lineage) if m.kind == "fine-tuned" else None)

    @classmethod
    def from_pb(cls, m: pb.Model) -> "ModelObject":
        return cls(**cls.fields_from_pb(m))


class ModelDeleted(BaseModel):
    id: str = Field(description="The deleted model.")
    object: Literal["model"] = "model"
    deleted: bool = Field(description="Always true; a refused delete is an error.")
