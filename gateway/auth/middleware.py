"""Every request but the public ones carries a key: authenticate, limit, then route.

Plain ASGI, like the request-id middleware, to keep the hot path cheap. The principal is left
in the request's state (`request.state.principal`), where `get_clients` finds it.
"""

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.auth.keys import Principal
from gateway.auth.limits import RateLimited
from gateway.errors import error_response
from services.common.context import project
from services.common.errors import TuneForgeError

PUBLIC = {"/", "/health", "/ready", "/metrics", "/docs", "/redoc", "/openapi.json",
          "/docs/oauth2-redirect"}
PUBLIC_PREFIXES = ("/console",)  # the console's page and scripts; its API calls carry a key
GENERATION = {"/v1/chat/completions", "/v1/completions"}


def _public(path: str) -> bool:
    return path in PUBLIC or path.startswith(PUBLIC_PREFIXES)


class AuthMiddleware:
    """Authenticates and applies per-key and per-project limits; the guard checks objects."""

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
            if generation:
                tenancy.limits.acquire(who.key_id)
        except TuneForgeError as e:
            return await self._refuse(e, scope, receive, send)
        except RateLimited as e:
            err = TuneForgeError("rate_limited", e.message)
            retry = {"Retry-After": str(e.retry_after)}
            return await self._refuse(err, scope, receive, send, retry)
        scope.setdefault("state", {})["principal"] = who
        project.set(who.project_id)  # forwarded on every gRPC call, stamped on logs
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
