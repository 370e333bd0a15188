"""Running a service's async gRPC server: health service, request context, metrics, errors,
graceful stop."""

import asyncio
import functools
import inspect
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.common.context import REQUEST_ID_KEY, request_id  # noqa: F401 - re-exported
from services.common.errors import TuneForgeError
from services.common.grpc_telemetry import TelemetryInterceptor
from services.common.logs import configure_logging
from services.common.metrics import ServiceMetrics, serve_metrics
from services.common.settings import CommonSettings

log = logging.getLogger(__name__)


def rpc(method):
    """Wrap a servicer method: turn TuneForgeError (and any other failure) into a gRPC status.

    The request id and project are bound by the server's interceptor (grpc_telemetry).
    """

    async def fail(context, e: Exception):
        if isinstance(e, TuneForgeError):
            await context.abort(e.kind.grpc_status, e.message, e.grpc_metadata())
        log.exception("unhandled error in %s", method.__qualname__)
        err = TuneForgeError("internal", f"internal error: {type(e).__name__}: {e}")
        await context.abort(err.kind.grpc_status, err.message, err.grpc_metadata())

    if inspect.isasyncgenfunction(method):
        @functools.wraps(method)
        async def stream_wrapper(self, request, context):
            stream = method(self, request, context)
            try:
                async for item in stream:
                    yield item
            except (asyncio.CancelledError, grpc.aio.AbortError):
                raise
            except Exception as e:  # noqa: BLE001 - mapped to a status for the caller
                await fail(context, e)
            finally:
                # A call that ends early (client gone) must still run the stream's cleanup.
                await stream.aclose()
        return stream_wrapper

    @functools.wraps(method)
    async def unary_wrapper(self, request, context):
        try:
            return await method(self, request, context)
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as e:  # noqa: BLE001
            await fail(context, e)
    return unary_wrapper


Setup = Callable[[AsyncExitStack, grpc.aio.Server], Awaitable[None]]


@asynccontextmanager
async def running_server(name: str, address: str, setup: Setup, grace_s: float = 5.0,
                         metrics: ServiceMetrics | None = None,
                         metrics_port: int = 0) -> AsyncIterator[int]:
    """Start a service's server on `address` and yield the bound port; stop it gracefully on exit.

    `setup` opens the service's clients on the exit stack and registers its servicer; they are
    closed in reverse order after the server has stopped taking calls. Every call is counted
    and timed in `metrics` (a fresh set when None), served on `metrics_port` of the same host
    unless it is 0. Tests use this directly with port 0.
    """
    metrics = metrics or ServiceMetrics(name)
    server = grpc.aio.server(interceptors=[TelemetryInterceptor(metrics)], options=[
        ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    async with AsyncExitStack() as stack:
        if metrics_port:
            # Before setup, so a slow start (base models uploading) can be watched.
            serve_metrics(stack, metrics.registry, _host(address), metrics_port)
        await setup(stack, server)
        port = server.add_insecure_port(address)
        await server.start()
        for svc in ("", name):
            await health_servicer.set(svc, health_pb2.HealthCheckResponse.SERVING)
        log.info("%s listening on %s (port %d)", name, address, port)
        try:
            yield port
        finally:
            log.info("%s stopping", name)
            await health_servicer.enter_graceful_shutdown()
            await server.stop(grace_s)
    log.info("%s stopped", name)


def _host(address: str) -> str:
    """The host part of a gRPC listen address ('0.0.0.0:50061', '[::]:50061')."""
    host = address.rsplit(":", 1)[0] if ":" in address else address
    return host.strip("[]") or "0.0.0.0"


async def serve(name: str, address: str, setup: Setup, metrics: ServiceMetrics | None = None,
                metrics_port: int = 0) -> None:
    """Run the service until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_server(name, address, setup, metrics=metrics, metrics_port=metrics_port):
        await stop.wait()


def run(name: str, address: str, setup: Setup, settings: CommonSettings,
        metrics: ServiceMetrics | None = None, metrics_port: int = 0) -> None:
    """Process entry point for a service: logs as `settings` say, metrics on `metrics_port`."""
    configure_logging(name, settings.log_level, settings.log_format)
    asyncio.run(serve(name, address, setup, metrics, metrics_port))
