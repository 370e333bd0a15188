"""Wire types of /v1/deployments (TuneForge's own: a model loaded in the inference service)."""

from typing import Literal

from pydantic import BaseModel, Field

from gateway.api.fine_tuning.protocol import JobError
from tuneforge.v1 import inference_pb2 as pb


class CreateDeployment(BaseModel):
    model: str = Field(description="Registered model to serve.")
    backend: Literal["auto", "transformers"] = Field(default="auto",
                                                     description="Inference engine.")


class DeploymentObject(BaseModel):
    id: str
    object: Literal["deployment"] = "deployment"
    model: str
    status: str = Field(description="pending, loading, ready, failed or deleted.")
    backend: str
    created_at: int
    error: JobError | None = None

    @classmethod
    def from_pb(cls, d: pb.Deployment) -> "DeploymentObject":
        return cls(id=d.id, model=d.model, status=d.status, backend=d.backend,
                   created_at=d.created_at,
                   error=JobError(code=d.error.code, message=d.error.message,
                                  param=d.error.param or None) if d.error.code else None)
