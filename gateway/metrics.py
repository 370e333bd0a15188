"""Prometheus metrics of the gateway: requests and latencies by route template and status."""

import time

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Spans a health check (ms) to a long generation or upload (minutes).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class GatewayMetrics:
    """One registry per app, so several apps in one test process do not collide."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("tuneforge_http_requests_total", "HTTP requests answered.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("tuneforge_http_request_duration_seconds",
                                 "Time to the last byte of the response.",
                                 ["method", "route"], buckets=BUCKETS, registry=self.registry)
        self._series: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str, status: str, seconds: float) -> None:
        """Count one request and its duration."""
        # `labels()` takes a lock and builds a key each time: look each series up once.
        series = self._series.get((method, route, status))
        if series is None:
            series = self._series[(method, route, status)] = (
                self.requests.labels(method, route, status), self.latency.labels(method, route))
        series[0].inc()
        series[1].observe(seconds)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (not its raw path, whose
    ids would make one series per object)."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe(scope["method"], route, str(status), time.perf_counter() - start)


def install(app: FastAPI) -> None:
    """Add the middleware and `GET /metrics` to `app`."""
    metrics = GatewayMetrics()
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics",
             response_class=Response,
             responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
