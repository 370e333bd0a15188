"""Routing a model name to an inference replica, learned from the replicas' NATS heartbeats.

Each replica announces what it serves every few seconds. A request goes to a live replica that
has the model ready, the one with the fewest requests outstanding (this gateway's own count,
then the replica's report); a replica that stops beating or says it is stopping gets no more.
A model no replica lists is tried on replicas holding its parent (adapters are served on their
base), and failing that on the configured inference service, which answers with authority.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import grpc
import nats

from services.common.errors import TuneForgeError
from services.common.grpc_client import channel
from services.inference.heartbeat import heartbeat_subject
from tuneforge.v1 import inference_pb2 as pb
from tuneforge.v1 import inference_pb2_grpc, registry_pb2, registry_pb2_grpc

log = logging.getLogger(__name__)

MISSED_BEATS = 3  # a replica this many intervals late is taken for dead
FORGET_AFTER_S = 300.0  # a dead replica is still named in errors this long, then dropped
PARENT_TTL_S = 30.0
CLOSE_GRACE_S = 60.0


@dataclass(eq=False)
class Replica:
    replica_id: str
    address: str
    stub: inference_pb2_grpc.InferenceServiceStub
    channel: grpc.aio.Channel
    models: dict[str, pb.ServedModel] = field(default_factory=dict)
    reported: int = 0  # outstanding requests it reported
    in_flight: int = 0  # requests this gateway has sent it and not seen end
    last_seen: float = 0.0
    interval_s: float = 2.0
    down: bool = False  # stopping, or a call found it unreachable

    def alive(self, now: float) -> bool:
        return not self.down and now - self.last_seen <= self.interval_s * MISSED_BEATS

    def holds(self, model: str) -> bool:
        return model in self.models or any(m.base_model == model for m in self.models.values())

    def load(self) -> tuple[int, int]:
        return self.in_flight, self.reported


class Lease:
    """A request's hold on a replica: counted as outstanding until released."""

    def __init__(self, router: "ReplicaRouter", replica: Replica | None):
        self.router, self.replica = router, replica
        self.stub = replica.stub if replica else router.fallback
        if replica:
            replica.in_flight += 1

    def release(self) -> None:
        if self.replica is not None:
            self.replica.in_flight -= 1
            self.replica = None

    def failed(self) -> None:
        """The replica could not be reached: send nothing more there until it beats again."""
        if self.replica is not None:
            self.replica.down = True
            log.warning("replica %s at %s is unreachable; routing around it",
                        self.replica.replica_id, self.replica.address)
        self.release()


class ReplicaRouter:
    def __init__(self, fallback: inference_pb2_grpc.InferenceServiceStub,
                 registry: registry_pb2_grpc.RegistryServiceStub, timeout_s: float):
        self.fallback, self.registry, self.timeout_s = fallback, registry, timeout_s
        self.replicas: dict[str, Replica] = {}
        self._parents: dict[str, tuple[float, str]] = {}

    async def listen(self, nats_url: str, prefix: str, stack: AsyncExitStack) -> None:
        """Follow heartbeats from now until `stack` closes. Connecting happens in the
        background: while NATS is away, requests go to the configured inference service."""
        task = asyncio.create_task(self._follow(nats_url, prefix), name="heartbeats")
        stack.push_async_callback(self.close)
        stack.push_async_callback(_cancel, task)

    async def _follow(self, nats_url: str, prefix: str) -> None:
        async def failed(e: Exception) -> None:
            log.warning("NATS at %s: %s; routing on what is known", nats_url, e)

        # Retries until it connects, and reconnects for ever after.
        nc = await nats.connect(nats_url, name="tuneforge-gateway", max_reconnect_attempts=-1,
                                error_cb=failed)
        try:
            await nc.subscribe(heartbeat_subject(prefix), cb=self._on_heartbeat)
            await asyncio.Event().wait()
        finally:
            await nc.drain()

    async def _on_heartbeat(self, msg) -> None:
        beat = pb.ReplicaHeartbeat.FromString(msg.data)
        self.observe(beat)

    def observe(self, beat: pb.ReplicaHeartbeat) -> None:
        """Take in one heartbeat."""
        replica = self.replicas.get(beat.replica_id)
        if replica is None or replica.address != beat.address:
            if replica is not None:
                self._drop(replica)
            ch = channel(beat.address)
            replica = Replica(beat.replica_id, beat.address,
                              inference_pb2_grpc.InferenceServiceStub(ch), ch)
            self.replicas[beat.replica_id] = replica
            log.info("replica %s at %s joined", beat.replica_id, beat.address)
        replica.models = {m.model: m for m in beat.models}
        replica.reported, replica.interval_s = beat.outstanding, beat.interval_s or 2.0
        replica.last_seen, replica.down = time.monotonic(), beat.stopping
        self._forget_old()

    async def lease(self, model: str, tried: set[str] = frozenset()) -> Lease:
        """A hold on the replica to send `model` to; 503 when only dead replicas know it."""
        now = time.monotonic()
        known = [r for r in self.replicas.values() if r.replica_id not in tried]
        if not any(r.holds(model) for r in known):
            if parent := await self._parent(model):
                model = parent  # an adapter or a fine-tune, served on its parent's replica
        holding = [r for r in known if r.holds(model)]
        alive = [r for r in holding if r.alive(now)]
        ready = [r for r in alive if _ready(r, model)]
        if ready or alive:
            return Lease(self, min(ready or alive, key=Replica.load))
        if holding:
            names = ", ".join(f"{r.replica_id} ({r.address})" for r in holding)
            raise TuneForgeError(
                "unavailable", f"No replica serving the model '{model}' is reachable: {names} "
                f"stopped sending heartbeats or could not be reached. Try again shortly.",
                "model")
        if tried:
            raise TuneForgeError("unavailable", f"Every replica serving the model '{model}' "
                                 "failed to answer. Try again shortly.", "model")
        return Lease(self, None)

    async def _parent(self, model: str) -> str:
        hit = self._parents.get(model)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        try:
            m = await self.registry.GetModel(registry_pb2.GetModelRequest(id=model),
                                             timeout=self.timeout_s)
            parent = m.parent
        except grpc.aio.AioRpcError:
            parent = ""  # unknown here: the inference service gives the authoritative answer
        self._parents[model] = (time.monotonic() + PARENT_TTL_S, parent)
        return parent

    def _forget_old(self) -> None:
        now = time.monotonic()
        for replica in list(self.replicas.values()):
            if now - replica.last_seen > FORGET_AFTER_S:
                self._drop(replica)

    def _drop(self, replica: Replica) -> None:
        self.replicas.pop(replica.replica_id, None)
        replica.down = True
        # Calls still in flight on the channel get a grace period before it closes.
        loop = asyncio.get_running_loop()
        loop.call_later(CLOSE_GRACE_S, lambda: loop.create_task(replica.channel.close()))

    async def close(self) -> None:
        replicas, self.replicas = list(self.replicas.values()), {}
        for replica in replicas:
            await replica.channel.close()


async def _cancel(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _ready(replica: Replica, model: str) -> bool:
    served = replica.models.get(model)
    if served is not None:
        return served.status == "ready"
    return any(m.base_model == model and m.status == "ready" for m in replica.models.values())


def is_unreachable(err: grpc.aio.AioRpcError) -> bool:
    """A transport failure (no TuneForge error code): the replica itself is gone."""
    return err.code() == grpc.StatusCode.UNAVAILABLE and not any(
        k == "tf-error-code" for k, _ in (err.trailing_metadata() or ()))


Call = Callable[[inference_pb2_grpc.InferenceServiceStub], grpc.aio.UnaryStreamCall]


class RoutedInference:
    """The inference stub as the routes use it: generations go to a replica chosen per call,
    every other RPC (deployments) to the configured inference service. Routes keep calling
    `clients.inference.<Rpc>`, so whatever wraps the clients (the auth guard) still applies."""

    def __init__(self, router: ReplicaRouter):
        self.router = router

    def __getattr__(self, name: str):
        return getattr(self.router.fallback, name)

    def ChatCompletion(self, request: pb.ChatCompletionRequest, **kw) -> "RoutedStream":
        return RoutedStream(self.router, request.model, lambda s: s.ChatCompletion(request, **kw))

    def Completion(self, request: pb.CompletionRequest, **kw) -> "RoutedStream":
        return RoutedStream(self.router, request.model, lambda s: s.Completion(request, **kw))


class RoutedStream:
    """A server stream on the chosen replica, re-routed while no message has arrived when the
    replica cannot be reached; closing it cancels the call, which stops the generation."""

    def __init__(self, router: ReplicaRouter, model: str, call: Call):
        self.router, self.model, self.call = router, model, call
        self._stream: grpc.aio.UnaryStreamCall | None = None

    def __aiter__(self) -> AsyncIterator[pb.CompletionChunk]:
        return self._chunks()

    def cancel(self) -> bool:
        return self._stream.cancel() if self._stream is not None else False

    async def _chunks(self) -> AsyncIterator[pb.CompletionChunk]:
        tried: set[str] = set()
        while True:
            lease = await self.router.lease(self.model, tried)
            self._stream = self.call(lease.stub)
            # Iterating a call costs less per message than read() (measured: ~10 us of a
            # ~60 us message), and a generation is read message by message.
            messages = aiter(self._stream)
            try:
                first = await anext(messages, None)
            except grpc.aio.AioRpcError as e:
                if is_unreachable(e) and lease.replica is not None:
                    tried.add(lease.replica.replica_id)
                    lease.failed()
                    continue
                lease.release()
                raise
            except BaseException:
                self._stream.cancel()
                lease.release()
                raise
            break
        try:
            if first is not None:
                yield first
                async for chunk in messages:
                    yield chunk
        finally:
            # A client that went away closes this, cancelling the call on the replica.
            self._stream.cancel()
            lease.release()


async def open_stream(call) -> AsyncIterator[pb.CompletionChunk]:
    """Start a generation and wait for its first chunk, so that every error comes before the
    response's first byte; the rest of the chunks follow from the returned stream."""
    chunks = aiter(call)
    try:
        first = await anext(chunks)
    except grpc.aio.AioRpcError as e:
        raise TuneForgeError.from_rpc_error(e) from None
    except StopAsyncIteration:
        raise TuneForgeError("internal", "The inference service returned no output.") from None

    async def rest() -> AsyncIterator[pb.CompletionChunk]:
        try:
            yield first
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()
            # A wrapper (the auth guard) may not close the stream it wraps: cancel the call.
            call.cancel()

    return rest()


async def open_router(fallback: inference_pb2_grpc.InferenceServiceStub,
                      registry: registry_pb2_grpc.RegistryServiceStub, timeout_s: float,
                      nats_url: str, prefix: str, stack: AsyncExitStack) -> ReplicaRouter:
    """A router following heartbeats until `stack` closes."""
    router = ReplicaRouter(fallback, registry, timeout_s)
    await router.listen(nats_url, prefix, stack)
    return router
