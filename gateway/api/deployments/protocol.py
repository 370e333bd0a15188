"""Wire types of /v1/deployments (TuneForge's own: a model loaded in the inference service)."""

from typing import Literal

from pydantic import BaseModel, Field

from gateway.api.common import Int32
from gateway.api.fine_tuning.protocol import JobError
from tuneforge.v1 import inference_pb2 as pb


class CreateDeployment(BaseModel):
    model: str = Field(description="Registered model to serve: an id, name@alias or "
                                   "name@version. An alias deployment follows the alias.")
    backend: Literal["auto", "transformers", "vllm"] = Field(
        default="auto", description="Inference engine; auto is vLLM on a GPU host with vLLM.")
    replicas: int = Field(default=1, ge=1, le=16, description="Engine copies to balance over.")
    gpus_per_replica: Int32 = Field(default=0, ge=0,
                                  description="GPUs each replica uses; 0 runs on the CPU.")
    max_context: Int32 | None = Field(default=None, ge=1,
                                    description="Most prompt plus completion tokens.")
    max_concurrent_requests: Int32 | None = Field(
        default=None, ge=1, le=1024, description="Sequences one replica batches together.")

    def to_pb(self) -> pb.CreateDeploymentRequest:
        return pb.CreateDeploymentRequest(
            model=self.model, backend=self.backend, replicas=self.replicas,
            gpus_per_replica=self.gpus_per_replica, max_context=self.max_context or 0,
            max_concurrent_requests=self.max_concurrent_requests or 0)


class DeploymentObject(BaseModel):
    id: str
    object: Literal["deployment"] = "deployment"
    model: str = Field(description="The model as requested (possibly name@alias).")
    resolved_model: str = Field(description="The registered model it serves now.")
    base_model: str = Field(description="Whose weights are loaded: the model or its parent.")
    adapter: bool = Field(description="A LoRA adapter served on base_model's engine.")
    status: str = Field(description="pending, loading, ready, failed or deleted.")
    backend: str
    replicas: int
    gpus_per_replica: int
    max_context: int | None = None
    max_concurrent_requests: int | None = None
    created_at: int
    error: JobError | None = Field(default=None, description="Why it failed.")

    @classmethod
    def from_pb(cls, d: pb.Deployment) -> "DeploymentObject":
        return cls(id=d.id, model=d.model, resolved_model=d.resolved_model or d.model,
                   base_model=d.base_model or d.model, adapter=d.adapter, status=d.status,
                   backend=d.backend, replicas=d.replicas or 1,
                   gpus_per_replica=d.gpus_per_replica, max_context=d.max_context or None,
                   max_concurrent_requests=d.max_concurrent_requests or None,
                   created_at=d.created_at,
                   error=JobError(code=d.error.code, message=d.error.message,
                                  param=d.error.param or None) if d.error.code else None)
