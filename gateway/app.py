"""The FastAPI application: lifespan-owned gRPC clients, routers, one error contract."""

import asyncio
import uuid
from contextlib import AsyncExitStack, asynccontextmanager

import grpc
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway import errors
from gateway.api.chat.router import router as chat_router
from gateway.api.deployments.router import router as deployments_router
from gateway.api.files.router import router as files_router
from gateway.api.fine_tuning.router import router as fine_tuning_router
from gateway.api.models.router import router as models_router
from gateway.clients import Clients
from gateway.settings import GatewaySettings
from services.common.grpc_client import channel
from services.common.grpc_server import REQUEST_ID_KEY, request_id

SERVICES = ("dataset", "training", "registry", "inference")


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with AsyncExitStack() as stack:
            app.state.clients = await Clients.open(settings, stack)
            yield

    app = FastAPI(
        title="TuneForge API",
        version="0.1.0",
        summary="Fine-tune LLMs on your data and serve them behind an OpenAI-compatible API.",
        lifespan=lifespan,
    )
    errors.install(app)
    for r in (files_router, models_router, fine_tuning_router, deployments_router, chat_router):
        app.include_router(r)

    @app.middleware("http")
    async def bind_request_id(request: Request, call_next):
        rid = request.headers.get(REQUEST_ID_KEY) or uuid.uuid4().hex
        request_id.set(rid)
        response = await call_next(request)
        response.headers[REQUEST_ID_KEY] = rid
        return response

    @app.get("/health", tags=["operations"], summary="Liveness")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"], summary="Readiness: every service answers")
    async def ready() -> JSONResponse:
        status = dict(zip(SERVICES, await asyncio.gather(
            *(_check(getattr(settings, f"{s}_addr")) for s in SERVICES))))
        ok = all(v == "SERVING" for v in status.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "services": status},
                            status_code=200 if ok else 503)

    return app


async def _check(addr: str) -> str:
    async with channel(addr) as ch:
        try:
            r = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(),
                                                            timeout=2)
            return health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)
        except grpc.aio.AioRpcError as e:
            return e.code().name
