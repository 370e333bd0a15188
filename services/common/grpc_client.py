"""gRPC channels to other services; every call carries the caller's request id."""

from contextlib import AsyncExitStack

import grpc

from services.common.grpc_server import REQUEST_ID_KEY, request_id


class _RequestIdInterceptor(grpc.aio.UnaryUnaryClientInterceptor,
                            grpc.aio.UnaryStreamClientInterceptor,
                            grpc.aio.StreamUnaryClientInterceptor):
    async def _add(self, continuation, details, request):
        md = list(details.metadata or [])
        if not any(k == REQUEST_ID_KEY for k, _ in md):
            md.append((REQUEST_ID_KEY, request_id.get()))
        details = details._replace(metadata=md) if hasattr(details, "_replace") else \
            grpc.aio.ClientCallDetails(details.method, details.timeout, md,
                                       details.credentials, details.wait_for_ready)
        return await continuation(details, request)

    intercept_unary_unary = _add
    intercept_unary_stream = _add
    intercept_stream_unary = _add


def channel(address: str) -> grpc.aio.Channel:
    """An insecure channel (services talk on a private network) with large messages allowed."""
    return grpc.aio.insecure_channel(
        address,
        options=[
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ],
        interceptors=[_RequestIdInterceptor()],
    )


def open_channel(stack: AsyncExitStack, address: str) -> grpc.aio.Channel:
    """A channel closed by `stack`; it connects lazily, so the peer may start later."""
    ch = channel(address)
    stack.push_async_callback(ch.close)
    return ch
