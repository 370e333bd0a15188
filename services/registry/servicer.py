"""RegistryService RPCs: proto messages to domain calls and back."""

import json

from services.common.errors import TuneForgeError
from services.common.grpc_server import rpc
from services.registry.service import RegistryService
from services.registry.store import ModelRecord
from tuneforge.v1 import registry_pb2 as pb
from tuneforge.v1 import registry_pb2_grpc

DEFAULT_LIMIT = 100


def model_to_pb(rec: ModelRecord) -> pb.Model:
    lin = rec.lineage or {}
    return pb.Model(
        id=rec.id, created_at=rec.created_at, owned_by=rec.owned_by, kind=rec.kind,
        parent=rec.parent, artifact_prefix=rec.artifact_prefix, architecture=rec.architecture,
        num_parameters=rec.num_parameters, context_length=rec.context_length, status=rec.status,
        lineage=pb.Lineage(
            base_model=lin.get("base_model", ""), training_file=lin.get("training_file", ""),
            training_file_sha256=lin.get("training_file_sha256", ""),
            job_id=lin.get("job_id", ""),
            hyperparameters_json=json.dumps(lin.get("hyperparameters", {})),
            metrics=lin.get("metrics", {}),
        ),
    )


def lineage_from_pb(lin: pb.Lineage) -> dict:
    return {
        "base_model": lin.base_model, "training_file": lin.training_file,
        "training_file_sha256": lin.training_file_sha256, "job_id": lin.job_id,
        "hyperparameters": json.loads(lin.hyperparameters_json or "{}"),
        "metrics": dict(lin.metrics),
    }


class RegistryServicer(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, service: RegistryService):
        self.service = service

    @rpc
    async def RegisterModel(self, request: pb.RegisterModelRequest, context) -> pb.Model:
        rec = ModelRecord(
            id=request.id, created_at=0, owned_by=request.owned_by or "user", kind=request.kind,
            parent=request.parent, artifact_prefix=request.artifact_prefix,
            lineage=lineage_from_pb(request.lineage),
        )
        return model_to_pb(await self.service.register(rec))

    @rpc
    async def GetModel(self, request: pb.GetModelRequest, context) -> pb.Model:
        rec = await self.service.store.get(request.id)
        if rec is None:
            raise TuneForgeError("model_not_found",
                                 f"The model '{request.id}' does not exist.", "model")
        return model_to_pb(rec)

    @rpc
    async def ListModels(self, request: pb.ListModelsRequest, context) -> pb.ListModelsResponse:
        recs, more = await self.service.store.list(request.limit or DEFAULT_LIMIT, request.after)
        return pb.ListModelsResponse(data=[model_to_pb(r) for r in recs], has_more=more)
