"""InferenceService RPCs: proto messages to domain calls and back."""

from contextlib import aclosing

from services.common.errors import invalid
from services.common.grpc_server import rpc
from services.inference.protocol import Chunk, SamplingParams
from services.inference.service import DeploymentService
from services.inference.serving import ChatServing
from services.inference.store import DeploymentRecord
from tuneforge.v1 import common_pb2
from tuneforge.v1 import inference_pb2 as pb
from tuneforge.v1 import inference_pb2_grpc

DEFAULT_LIMIT = 100


def deployment_to_pb(rec: DeploymentRecord) -> pb.Deployment:
    err = rec.error or {}
    return pb.Deployment(
        id=rec.id, model=rec.model, status=rec.status, backend=rec.backend,
        created_at=rec.created_at,
        error=common_pb2.Error(code=err.get("code", ""), message=err.get("message", ""),
                               param=err.get("param") or "") if err else None,
    )


def params_from_pb(p: pb.SamplingParams) -> SamplingParams:
    return SamplingParams(
        max_tokens=p.max_tokens if p.HasField("max_tokens") else None,
        temperature=p.temperature if p.HasField("temperature") else 1.0,
        top_p=p.top_p if p.HasField("top_p") else 1.0,
        stop=tuple(p.stop),
        seed=p.seed if p.HasField("seed") else None,
        n=p.n or 1,
    )


def chunk_to_pb(chunk: Chunk) -> pb.CompletionChunk:
    out = pb.CompletionChunk(index=chunk.index, text=chunk.text,
                             finish_reason=chunk.finish_reason or "")
    if chunk.usage is not None:
        out.usage.CopyFrom(pb.Usage(prompt_tokens=chunk.usage.prompt_tokens,
                                    completion_tokens=chunk.usage.completion_tokens,
                                    total_tokens=chunk.usage.total_tokens))
    return out


class InferenceServicer(inference_pb2_grpc.InferenceServiceServicer):
    def __init__(self, deployments: DeploymentService, chat: ChatServing):
        self.deployments, self.chat = deployments, chat

    @rpc
    async def CreateDeployment(self, request: pb.CreateDeploymentRequest, context) -> pb.Deployment:
        return deployment_to_pb(await self.deployments.create(request.model, request.backend))

    @rpc
    async def GetDeployment(self, request: pb.GetDeploymentRequest, context) -> pb.Deployment:
        return deployment_to_pb(await self.deployments.get(request.id))

    @rpc
    async def ListDeployments(self, request: pb.ListDeploymentsRequest,
                              context) -> pb.ListDeploymentsResponse:
        if request.limit < 0:
            raise invalid(f"limit must not be negative, not {request.limit}.", "limit")
        recs, more = await self.deployments.list(request.limit or DEFAULT_LIMIT, request.after)
        return pb.ListDeploymentsResponse(data=[deployment_to_pb(r) for r in recs],
                                          has_more=more)

    @rpc
    async def DeleteDeployment(self, request: pb.DeleteDeploymentRequest,
                               context) -> pb.Deployment:
        return deployment_to_pb(await self.deployments.delete(request.id))

    @rpc
    async def ChatCompletion(self, request: pb.ChatCompletionRequest, context):
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        stream = self.chat.stream(request.model, messages, params_from_pb(request.params))
        # A cancelled call must stop generating at once, not when the stream is collected.
        async with aclosing(stream) as chunks:
            async for chunk in chunks:
                yield chunk_to_pb(chunk)
