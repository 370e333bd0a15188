"""The server interceptor of every service: binds the caller's request id and project, then
counts and times the call by method and gRPC status code."""

import asyncio
import inspect
import time
from collections.abc import Callable
from contextlib import aclosing

import grpc

from services.common import context as ctx
from services.common.errors import TuneForgeError
from services.common.metrics import ServiceMetrics


def method_label(full_method: str) -> str:
    """'/tuneforge.v1.DatasetService/UploadFile' -> 'DatasetService/UploadFile'."""
    service, _, method = full_method.lstrip("/").partition("/")
    return f"{service.rsplit('.', 1)[-1]}/{method}"


def _status(error: BaseException | None, context: grpc.aio.ServicerContext) -> str:
    if isinstance(error, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED.name
    code = context.code()  # set by abort() or set_code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    return grpc.StatusCode.UNKNOWN.name if error is not None else grpc.StatusCode.OK.name


class TelemetryInterceptor(grpc.aio.ServerInterceptor):
    """Wraps each handler so that the bookkeeping runs in the call's own task and context."""

    def __init__(self, metrics: ServiceMetrics):
        self.metrics = metrics
        # method -> (handler, its wrapped twin): wrapping once per method, not per call.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def intercept_service(self, continuation, details: grpc.HandlerCallDetails):
        handler = await continuation(details)
        if handler is None:
            return None
        cached = self._wrapped.get(details.method)
        if cached is None or cached[0] is not handler:
            cached = self._wrapped[details.method] = (handler, self._wrap_handler(
                handler, method_label(details.method)))
        return cached[1]

    def _wrap_handler(self, handler: grpc.RpcMethodHandler,
                      label: str) -> grpc.RpcMethodHandler:
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap(handler.unary_unary, label), handler.request_deserializer,
                handler.response_serializer)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap(handler.unary_stream, label), handler.request_deserializer,
                handler.response_serializer)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._wrap(handler.stream_unary, label), handler.request_deserializer,
                handler.response_serializer)
        return grpc.stream_stream_rpc_method_handler(
            self._wrap(handler.stream_stream, label), handler.request_deserializer,
            handler.response_serializer)

    def _wrap(self, behavior: Callable, label: str) -> Callable:
        m, service = self.metrics, self.metrics.service
        handled, handling = m.handled, m.handling.labels(service, label)
        in_flight = m.in_flight.labels(service)

        async def bind(context) -> None:
            try:
                ctx.bind_from_metadata(context.invocation_metadata())
            except TuneForgeError as e:
                await context.abort(e.kind.grpc_status, e.message, e.grpc_metadata())

        def end(start: float, error: BaseException | None, context) -> None:
            in_flight.dec()
            handling.observe(time.perf_counter() - start)
            handled.labels(service, label, _status(error, context)).inc()

        if inspect.isasyncgenfunction(behavior):
            async def streaming(request, context):
                start, error = time.perf_counter(), None
                in_flight.inc()
                try:
                    await bind(context)
                    # Closed here, not when collected: a call cut short must still clean up.
                    async with aclosing(behavior(request, context)) as stream:
                        async for item in stream:
                            yield item
                except BaseException as e:
                    error = e
                    raise
                finally:
                    end(start, error, context)
            return streaming

        async def unary(request, context):
            start, error = time.perf_counter(), None
            in_flight.inc()
            try:
                await bind(context)
                result = behavior(request, context)
                return await result if inspect.isawaitable(result) else result
            except BaseException as e:
                error = e
                raise
            finally:
                end(start, error, context)
        return unary
