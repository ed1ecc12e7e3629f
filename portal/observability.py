"""The portal as a service operations can watch: Prometheus HTTP metrics on `GET /metrics`
(requests by route template, method and status; latency histogram), only for the bearer of
PORTAL_METRICS_TOKEN, and `GET /readyz` (Temporal and the database reachable)."""

from __future__ import annotations

import hmac
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client

from runtime.health import database_check, readiness, run_checks, temporal_check

UNMATCHED = "unmatched"  # requests no route matched: one label, whatever the path was
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    """The portal's request counter and latency histogram, in the app's own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "fasttrack_portal_requests",
            "HTTP requests answered by the portal, by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "fasttrack_portal_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Times every HTTP request and labels it with the template of the route that answered
    (`/api/referrals/{referral_id}`, never the id itself)."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.metrics.observe(
                route_template(scope), scope["method"], status, time.perf_counter() - started
            )


def route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def install(
    app: FastAPI,
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    metrics_token: SecretStr | None = None,
) -> None:
    """Add the metrics middleware and the `/metrics` and `/readyz` endpoints to `app`.
    `/metrics` answers only the bearer of `metrics_token`; without one it does not exist."""
    metrics = HttpMetrics()
    app.state.http_metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    checks = {"temporal": temporal_check(client), "database": database_check(sessions)}

    expected = f"Bearer {metrics_token.get_secret_value()}".encode() if metrics_token else None

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        if expected is None:
            return JSONResponse({"error": "not_found", "message": "no such endpoint"}, 404)
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            message = "send PORTAL_METRICS_TOKEN as 'Authorization: Bearer TOKEN'"
            headers = {"WWW-Authenticate": "Bearer"}
            return JSONResponse({"error": "unauthorized", "message": message}, 401, headers)
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/readyz", include_in_schema=False)  # for probes, like /metrics
    async def readyz() -> JSONResponse:
        status, body = readiness(await run_checks(checks))
        return JSONResponse(body, status, headers={"Cache-Control": "no-store"})
