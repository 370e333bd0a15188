"""gRPC channels to other services; every call carries the caller's request id and project."""

from contextlib import AsyncExitStack

import grpc

from services.common.context import outgoing_metadata


class _ContextForwarder:
    """Adds the current request id and project (services/common/context.py) to each call,
    unless the caller set them itself."""

    async def _add(self, continuation, details, request):
        md = list(details.metadata or [])
        given = {k for k, _ in md}
        md += [(k, v) for k, v in outgoing_metadata() if k not in given]
        details = details._replace(metadata=md) if hasattr(details, "_replace") else \
            grpc.aio.ClientCallDetails(details.method, details.timeout, md,
                                       details.credentials, details.wait_for_ready)
        return await continuation(details, request)


# One class per call shape: grpc.aio files an interceptor under the first shape it
# implements only, so a single class for all four would never see a streaming call.
class _UnaryUnary(_ContextForwarder, grpc.aio.UnaryUnaryClientInterceptor):
    intercept_unary_unary = _ContextForwarder._add


class _UnaryStream(_ContextForwarder, grpc.aio.UnaryStreamClientInterceptor):
    intercept_unary_stream = _ContextForwarder._add


class _StreamUnary(_ContextForwarder, grpc.aio.StreamUnaryClientInterceptor):
    intercept_stream_unary = _ContextForwarder._add


class _StreamStream(_ContextForwarder, grpc.aio.StreamStreamClientInterceptor):
    intercept_stream_stream = _ContextForwarder._add


def context_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """Interceptors that forward the request id and project on calls of every shape."""
    return [_UnaryUnary(), _UnaryStream(), _StreamUnary(), _StreamStream()]


def channel(address: str) -> grpc.aio.Channel:
    """An insecure channel (services talk on a private network) with large messages allowed."""
    return grpc.aio.insecure_channel(
        address,
        options=[
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ],
        interceptors=context_interceptors(),
    )


def open_channel(stack: AsyncExitStack, address: str) -> grpc.aio.Channel:
    """A channel closed by `stack`; it connects lazily, so the peer may start later."""
    ch = channel(address)
    stack.push_async_callback(ch.close)
    return ch
