"""Every error leaves the gateway as OpenAI's envelope, with the status from the one table."""

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from services.common.errors import TuneForgeError

_HTTP_CODES = {401: "unauthenticated", 403: "permission_denied", 404: "not_found",
               405: "invalid_argument", 413: "payload_too_large", 429: "rate_limited"}


def error_response(err: TuneForgeError) -> JSONResponse:
    return JSONResponse(err.to_openai(), status_code=err.kind.http_status)


def _param(loc: tuple) -> str:
    # ("body", "hyperparameters", "n_epochs") -> "hyperparameters.n_epochs"
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts)


def validation_error(exc: RequestValidationError) -> TuneForgeError:
    errors = exc.errors()
    first = errors[0]
    param = _param(tuple(first.get("loc", ())))
    msgs = [f"{_param(tuple(e.get('loc', ()))) or 'body'}: {e.get('msg')}" for e in errors]
    return TuneForgeError("invalid_argument", "Invalid request: " + "; ".join(msgs), param or None)


def install(app: FastAPI) -> None:
    @app.exception_handler(TuneForgeError)
    async def _tuneforge(_: Request, exc: TuneForgeError):
        return error_response(exc)

    @app.exception_handler(grpc.aio.AioRpcError)
    async def _rpc(_: Request, exc: grpc.aio.AioRpcError):
        return error_response(TuneForgeError.from_rpc_error(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        return error_response(validation_error(exc))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException):
        code = _HTTP_CODES.get(exc.status_code, "internal" if exc.status_code >= 500
                               else "invalid_argument")
        resp = error_response(TuneForgeError(code, str(exc.detail)))
        resp.status_code = exc.status_code
        return resp
