"""Running a service's async gRPC server: health service, request ids, errors, graceful stop."""

import asyncio
import contextvars
import functools
import inspect
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.common.errors import TuneForgeError

log = logging.getLogger(__name__)

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
REQUEST_ID_KEY = "x-request-id"


def _bind_request_id(context: grpc.aio.ServicerContext) -> None:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY:
            request_id.set(value)


def rpc(method):
    """Wrap a servicer method: bind the request id, turn TuneForgeError into a gRPC status."""

    async def fail(context, e: Exception):
        if isinstance(e, TuneForgeError):
            await context.abort(e.kind.grpc_status, e.message, e.grpc_metadata())
        log.exception("unhandled error in %s", method.__qualname__)
        err = TuneForgeError("internal", f"internal error: {type(e).__name__}: {e}")
        await context.abort(err.kind.grpc_status, err.message, err.grpc_metadata())

    if inspect.isasyncgenfunction(method):
        @functools.wraps(method)
        async def stream_wrapper(self, request, context):
            _bind_request_id(context)
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
        _bind_request_id(context)
        try:
            return await method(self, request, context)
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as e:  # noqa: BLE001
            await fail(context, e)
    return unary_wrapper


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.request_id = request_id.get()
        return True


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(logging.Formatter(
        f"%(asctime)s %(levelname)s {service} [%(request_id)s] %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


Setup = Callable[[AsyncExitStack, grpc.aio.Server], Awaitable[None]]


@asynccontextmanager
async def running_server(name: str, address: str, setup: Setup,
                         grace_s: float = 5.0) -> AsyncIterator[int]:
    """Start a service's server on `address` and yield the bound port; stop it gracefully on exit.

    `setup` opens the service's clients on the exit stack and registers its servicer; they are
    closed in reverse order after the server has stopped taking calls. Tests use this directly
    with port 0.
    """
    server = grpc.aio.server(options=[
        ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    async with AsyncExitStack() as stack:
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


async def serve(name: str, address: str, setup: Setup) -> None:
    """Run the service until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_server(name, address, setup):
        await stop.wait()


def run(name: str, address: str, setup: Setup, log_level: str = "INFO") -> None:
    """Process entry point for a service."""
    configure_logging(name, log_level)
    asyncio.run(serve(name, address, setup))
