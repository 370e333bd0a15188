"""Wire types of /v1/models (OpenAI's model object, with TuneForge's details)."""

import json
from typing import Literal

from pydantic import BaseModel, Field

from tuneforge.v1 import registry_pb2 as pb


class Lineage(BaseModel):
    base_model: str = Field(description="Model this one was fine-tuned from.")
    training_file: str = Field(description="Dataset file id.")
    training_file_sha256: str = Field(description="Content hash of the dataset.")
    job_id: str = Field(description="Fine-tuning job that produced it.")
    hyperparameters: dict = Field(description="Resolved hyperparameters of the job.")
    metrics: dict[str, float] = Field(description="Final metrics, e.g. train_loss.")


class ModelObject(BaseModel):
    id: str = Field(description="Name to send as `model`.")
    object: Literal["model"] = "model"
    created: int = Field(description="Unix seconds.")
    owned_by: str = Field(description="Who registered it.")
    parent: str | None = Field(default=None, description="Base model of a fine-tuned model.")
    root: str = Field(description="The base model at the root of the lineage.")
    kind: str = Field(description="base or fine-tuned.")
    architecture: str = Field(description="e.g. Qwen2ForCausalLM.")
    num_parameters: int = Field(description="Parameter count.")
    context_length: int = Field(description="Maximum tokens of prompt plus completion.")
    status: str = Field(description="ready or failed.")
    lineage: Lineage | None = Field(default=None, description="Where a fine-tuned model came from.")

    @classmethod
    def from_pb(cls, m: pb.Model) -> "ModelObject":
        lin = None
        if m.kind == "fine-tuned":
            lin = Lineage(
                base_model=m.lineage.base_model, training_file=m.lineage.training_file,
                training_file_sha256=m.lineage.training_file_sha256, job_id=m.lineage.job_id,
                hyperparameters=json.loads(m.lineage.hyperparameters_json or "{}"),
                metrics=dict(m.lineage.metrics),
            )
        return cls(id=m.id, created=m.created_at, owned_by=m.owned_by, parent=m.parent or None,
                   root=m.lineage.base_model or m.parent or m.id, kind=m.kind,
                   architecture=m.architecture, num_parameters=m.num_parameters,
                   context_length=m.context_length, status=m.status, lineage=lin)
