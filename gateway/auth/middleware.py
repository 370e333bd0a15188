"""Every request but the public ones carries a key: authenticate, limit, then route.

Plain ASGI, like the request-id middleware, to keep the hot path cheap. The principal is left
in the request's state (`request.state.principal`), where `get_clients` finds it.
"""

import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.auth.keys import Principal
from gateway.auth.limits import RateLimited
from gateway.errors import error_response
from services.common.errors import TuneForgeError

PUBLIC = {"/", "/health", "/ready", "/metrics", "/docs", "/redoc", "/openapi.json",
          "/docs/oauth2-redirect"}
PUBLIC_PREFIXES = ("/console",)  # the console's page and scripts; its API calls carry a key
GENERATION = {"/v1/chat/completions", "/v1/completions"}


def _public(path: str) -> bool:
    return path in PUBLIC or path.startswith(PUBLIC_PREFIXES)


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a `receive` that replays it to the app."""
    chunks, more = [], True
    while more:
        msg = await receive()
        if msg["type"] != "http.request":
            return b"", receive
        chunks.append(msg.get("body", b""))
        more = msg.get("more_body", False)
    body, sent = b"".join(chunks), False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}
    return body, replay


def _model_of(body: bytes) -> str:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return ""  # the router reports the malformed body
    model = parsed.get("model") if isinstance(parsed, dict) else None
    return model if isinstance(model, str) else ""


class AuthMiddleware:
    """Authenticates, applies per-key and per-project limits, and checks generation models."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tenancy = getattr(scope["app"].state, "tenancy", None) if "app" in scope else None
        if scope["type"] != "http" or tenancy is None or _public(scope["path"]):
            return await self.app(scope, receive, send)
        headers, path, method = Headers(scope=scope), scope["path"], scope["method"]
        generation = method == "POST" and path in GENERATION
        try:
            who = await tenancy.auth.authenticate(headers.get("authorization"))
            tenancy.limits.take(who.key_id)
            self._admit(tenancy, who, method, path, headers)
            # One project only while auth is off: nothing to hide, keep the hot path lean.
            if generation and tenancy.settings.auth_enabled:
                body, receive = await _read_body(receive)
                await tenancy.ownership.check_model(_model_of(body), who)
            if generation:
                tenancy.limits.acquire(who.key_id)
        except TuneForgeError as e:
            return await self._refuse(e, scope, receive, send)
        except RateLimited as e:
            err = TuneForgeError("rate_limited", e.message)
            retry = {"Retry-After": str(e.retry_after)}
            return await self._refuse(err, scope, receive, send, retry)
        scope.setdefault("state", {})["principal"] = who
        if not generation:
            return await self.app(scope, receive, send)
        try:  # a stream holds its slot until its last byte, not just until its headers
            await self.app(scope, receive, send)
        finally:
            tenancy.limits.release(who.key_id)

    @staticmethod
    def _admit(tenancy, who: Principal, method: str, path: str, headers: Headers) -> None:
        if path.startswith("/v1/admin") and not who.admin:
            raise TuneForgeError("permission_denied",
                                 "Only the admin key may manage projects and keys.")
        limit = tenancy.settings.max_upload_bytes
        if method == "POST" and path == "/v1/files":
            length = headers.get("content-length", "")
            size = int(length) if length.isdigit() else 0
            if size > limit:
                raise TuneForgeError("payload_too_large", f"Upload of {size} bytes exceeds the "
                                     f"limit of {limit} bytes per file.", "file")

    @staticmethod
    async def _refuse(err: TuneForgeError, scope, receive, send, extra: dict | None = None):
        resp = error_response(err)
        if err.kind.http_status == 401:
            resp.headers["WWW-Authenticate"] = "Bearer"
        for k, v in (extra or {}).items():
            resp.headers[k] = v
        await resp(scope, receive, send)
