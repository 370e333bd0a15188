"""RegistryService RPCs: proto messages to domain calls and back."""

import json

from services.common.errors import invalid
from services.common.grpc_server import rpc
from services.registry.export import export_model
from services.registry.service import RegistryService, export_prefix
from services.registry.store import ModelRecord
from services.registry.versions import Versions
from tuneforge.v1 import common_pb2
from tuneforge.v1 import registry_pb2 as pb
from tuneforge.v1 import registry_pb2_grpc

DEFAULT_LIMIT = 100
ROLES = ("system", "user", "assistant")
_LINEAGE_TEXT = ("base_model", "training_file", "training_file_sha256", "job_id", "created_by",
                 "validation_file", "validation_file_sha256", "merged_from")


def model_to_pb(rec: ModelRecord, aliases: list[str] = ()) -> pb.Model:
    lin, serving = rec.lineage or {}, rec.serving or {}
    return pb.Model(
        id=rec.id, created_at=rec.created_at, owned_by=rec.owned_by, kind=rec.kind,
        parent=rec.parent, artifact_prefix=rec.artifact_prefix, architecture=rec.architecture,
        num_parameters=rec.num_parameters, context_length=rec.context_length, status=rec.status,
        lineage=pb.Lineage(
            **{k: str(lin.get(k) or "") for k in _LINEAGE_TEXT},
            hyperparameters_json=json.dumps(lin.get("hyperparameters", {})),
            metrics=lin.get("metrics", {}),
        ),
        name=rec.name, version=rec.version, aliases=list(aliases), format=rec.format,
        root=rec.root, dtype=rec.dtype, size_bytes=rec.size_bytes,
        checkpoint_step=rec.checkpoint_step,
        serving=pb.ServingSpec(
            chat_template=serving.get("chat_template", ""),
            stop_token_ids=serving.get("stop_token_ids", []),
            generation_config_json=json.dumps(serving.get("generation_config", {})),
            tokenizer_sha256=serving.get("tokenizer_sha256", ""),
        ),
        round_trip=pb.RoundTripCheck(**rec.round_trip),
        error=common_pb2.Error(**rec.error),
    )


def lineage_from_pb(lin: pb.Lineage) -> dict:
    try:
        hyperparameters = json.loads(lin.hyperparameters_json or "{}")
    except ValueError as e:
        raise invalid(f"lineage.hyperparameters_json is not JSON: {e}",
                      "lineage.hyperparameters_json") from None
    return {**{k: getattr(lin, k) for k in _LINEAGE_TEXT},
            "hyperparameters": hyperparameters, "metrics": dict(lin.metrics)}


def samples_from_pb(samples) -> list[dict]:
    """Conversations in the training file's canonical shape, each role checked."""
    out = []
    for i, sample in enumerate(samples):
        messages = []
        for j, m in enumerate(sample.messages):
            if m.role not in ROLES:
                raise invalid(f"samples[{i}].messages[{j}].role must be one of "
                              f"{', '.join(ROLES)}, not '{m.role}'.",
                              f"samples[{i}].messages[{j}].role")
            weight = {"weight": m.weight} if m.HasField("weight") else {}
            messages.append({"role": m.role, "content": m.content, **weight})
        if not any(m["role"] == "assistant" for m in messages):
            raise invalid(f"samples[{i}] has no assistant message to check.", f"samples[{i}]")
        out.append({"id": sample.id or f"sample-{i}", "messages": messages})
    return out


class RegistryServicer(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, service: RegistryService, versions: Versions):
        self.service, self.versions = service, versions

    async def _model(self, rec: ModelRecord) -> pb.Model:
        [(rec, aliases)] = await self.service.with_aliases([rec])
        return model_to_pb(rec, aliases)

    @rpc
    async def RegisterModel(self, request: pb.RegisterModelRequest, context) -> pb.Model:
        rec = ModelRecord(
            id=request.id, created_at=0, owned_by=request.owned_by or "user",
            kind=request.kind or ("fine-tuned" if request.parent else "base"),
            parent=request.parent, artifact_prefix=request.artifact_prefix, name=request.name,
            lineage=lineage_from_pb(request.lineage),
        )
        rec = await self.service.register(rec, request.source, samples_from_pb(request.samples))
        return await self._model(rec)

    @rpc
    async def GetModel(self, request: pb.GetModelRequest, context) -> pb.Model:
        return await self._model(await self.service.resolve(request.id))

    @rpc
    async def ListModels(self, request: pb.ListModelsRequest, context) -> pb.ListModelsResponse:
        recs, more = await self.service.store.page(request.limit or DEFAULT_LIMIT, request.after,
                                                   request.name)
        pairs = await self.service.with_aliases(recs)
        return pb.ListModelsResponse(data=[model_to_pb(r, a) for r, a in pairs], has_more=more)

    @rpc
    async def DeleteModel(self, request: pb.DeleteModelRequest, context
                          ) -> pb.DeleteModelResponse:
        rec = await self.versions.delete(request.id)
        return pb.DeleteModelResponse(id=rec.id, deleted=True)

    @rpc
    async def MergeAdapter(self, request: pb.MergeAdapterRequest, context) -> pb.Model:
        rec = await self.service.merge(request.id, request.new_id, request.owned_by)
        return await self._model(rec)

    @rpc
    async def SetAlias(self, request: pb.SetAliasRequest, context) -> pb.Alias:
        return pb.Alias(**await self.versions.set_alias(request.name, request.alias,
                                                        request.model))

    @rpc
    async def DeleteAlias(self, request: pb.DeleteAliasRequest, context) -> pb.Alias:
        return pb.Alias(**await self.versions.delete_alias(request.name, request.alias))

    @rpc
    async def ExportModel(self, request: pb.ExportModelRequest, context):
        rec = await self.service.resolve(request.id)
        export = await export_model(self.service.artifacts, rec,
                                    self.service.settings.export_url_expiry_s,
                                    export_prefix(rec.id))
        yield pb.ExportChunk(header=pb.ExportHeader(
            filename=export.filename, size_bytes=export.size_bytes, url=export.url,
            expires_at=export.expires_at))
        if export.chunks is not None:
            async for chunk in export.chunks:
                yield pb.ExportChunk(data=chunk)
