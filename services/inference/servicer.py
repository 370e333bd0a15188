"""InferenceService RPCs: proto messages to domain calls and back."""

from collections.abc import AsyncIterator
from contextlib import aclosing

from services.common.errors import invalid
from services.common.grpc_server import rpc
from services.inference.options import DeploymentOptions
from services.inference.protocol import Chunk, SamplingParams
from services.inference.service import DeploymentService
from services.inference.serving import CompletionServing
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
        resolved_model=rec.resolved_model, base_model=rec.base_model, adapter=rec.adapter,
        replicas=rec.replicas, gpus_per_replica=rec.gpus_per_replica,
        max_context=rec.max_context, max_concurrent_requests=rec.max_concurrent_requests,
    )


def params_from_pb(p: pb.SamplingParams) -> SamplingParams:
    return SamplingParams(
        max_tokens=p.max_tokens if p.HasField("max_tokens") else None,
        temperature=p.temperature if p.HasField("temperature") else 1.0,
        top_p=p.top_p if p.HasField("top_p") else 1.0,
        stop=tuple(p.stop),
        seed=p.seed if p.HasField("seed") else None,
        n=p.n or 1,
        top_k=p.top_k,
        presence_penalty=p.presence_penalty,
        frequency_penalty=p.frequency_penalty,
        logprobs=p.logprobs if p.HasField("logprobs") else None,
    )


def chunk_to_pb(chunk: Chunk) -> pb.CompletionChunk:
    out = pb.CompletionChunk(index=chunk.index, text=chunk.text,
                             finish_reason=chunk.finish_reason or "")
    if chunk.usage is not None:
        out.usage.CopyFrom(pb.Usage(prompt_tokens=chunk.usage.prompt_tokens,
                                    completion_tokens=chunk.usage.completion_tokens,
                                    total_tokens=chunk.usage.total_tokens))
    for lp in chunk.logprobs:
        out.logprobs.append(pb.TokenLogprob(
            token=lp.token, logprob=lp.logprob, bytes=lp.bytes,
            top_logprobs=[pb.TopLogprob(token=t, logprob=v, bytes=b) for t, v, b in lp.top]))
    return out


class InferenceServicer(inference_pb2_grpc.InferenceServiceServicer):
    def __init__(self, deployments: DeploymentService, serving: CompletionServing):
        self.deployments, self.serving = deployments, serving

    @rpc
    async def CreateDeployment(self, request: pb.CreateDeploymentRequest, context) -> pb.Deployment:
        options = DeploymentOptions(request.backend, request.replicas, request.gpus_per_replica,
                                    request.max_context, request.max_concurrent_requests)
        return deployment_to_pb(await self.deployments.create(request.model, options))

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
        stream = self.serving.chat(request.model, messages, params_from_pb(request.params))
        async with aclosing(_chunks(stream)) as chunks:
            async for chunk in chunks:
                yield chunk

    @rpc
    async def Completion(self, request: pb.CompletionRequest, context):
        prompt = (list(request.token_ids.ids) if request.WhichOneof("prompt") == "token_ids"
                  else request.text)
        stream = self.serving.complete(request.model, prompt, params_from_pb(request.params),
                                       request.echo)
        async with aclosing(_chunks(stream)) as chunks:
            async for chunk in chunks:
                yield chunk


async def _chunks(stream: AsyncIterator[Chunk]) -> AsyncIterator[pb.CompletionChunk]:
    # A cancelled call must stop generating at once, not when the stream is collected.
    async with aclosing(stream) as chunks:
        async for chunk in chunks:
            yield chunk_to_pb(chunk)
