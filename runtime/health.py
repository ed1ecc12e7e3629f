"""Readiness checks (Temporal, database, SMTP reachable) and the worker's small health endpoint.

`HEALTH_PORT` makes `python worker.py` serve `GET /healthz` (the process is up) and
`GET /readyz` (200 when Temporal, the database and the SMTP server all answer, else 503; the
JSON body says which failed). The portal answers the same paths (portal/observability.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiosmtplib
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from domain.validation import whole_number
from settings import Settings, SettingsError

log = logging.getLogger("fasttrack.health")

CHECK_TIMEOUT = 3.0  # seconds per dependency; a probe must answer well inside its own timeout
DEFAULT_HOST = "0.0.0.0"

Check = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str  # "ok", or the first line of the failure
    ms: float


async def run_checks(
    checks: Mapping[str, Check], timeout: float = CHECK_TIMEOUT
) -> list[CheckResult]:
    """Run every check at once, each bounded by `timeout`; a failure never raises."""

    async def one(name: str, check: Check) -> CheckResult:
        started = time.monotonic()
        try:
            await asyncio.wait_for(check(), timeout)
            ok, detail = True, "ok"
        except TimeoutError:
            ok, detail = False, f"no answer within {timeout:g} s"
        except Exception as err:
            lines = str(err).strip().splitlines()
            ok, detail = False, f"{type(err).__name__}: {lines[0] if lines else ''}".rstrip(": ")
        return CheckResult(name, ok, detail, round((time.monotonic() - started) * 1000, 1))

    return list(await asyncio.gather(*(one(n, c) for n, c in checks.items())))


def readiness(results: list[CheckResult]) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for /readyz."""
    ready = all(r.ok for r in results)
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": {r.name: {"ok": r.ok, "detail": r.detail, "ms": r.ms} for r in results},
    }
    return (200 if ready else 503), body


def temporal_check(client: Client) -> Check:
    async def check() -> None:
        await client.workflow_service.get_system_info(
            GetSystemInfoRequest(), timeout=timedelta(seconds=CHECK_TIMEOUT)
        )

    return check


def database_check(sessions: async_sessionmaker[AsyncSession]) -> Check:
    async def check() -> None:
        async with sessions() as session:
            await session.execute(text("SELECT 1"))

    return check


def smtp_check(settings: Settings) -> Check:
    """The SMTP server greets and answers NOOP (no login, nothing sent)."""

    async def check() -> None:
        smtp = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            timeout=CHECK_TIMEOUT,
            start_tls=False,
        )
        await smtp.connect()
        try:
            await smtp.noop()
        finally:
            with contextlib.suppress(Exception):
                await smtp.quit()

    return check


def worker_checks(
    client: Client, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> dict[str, Check]:
    return {
        "temporal": temporal_check(client),
        "database": database_check(sessions),
        "smtp": smtp_check(settings),
    }


def health_port(environ: Mapping[str, str] | None = None) -> int | None:
    """The port from HEALTH_PORT, or None when unset, empty, `0` or `off`."""
    env = os.environ if environ is None else environ
    raw = (env.get("HEALTH_PORT") or "").strip().lower()
    if raw in ("", "0", "off", "false", "no", "none", "disabled"):
        return None
    port = whole_number(raw, 65535)
    if not port:
        raise SettingsError(f"HEALTH_PORT must be a port number (1-65535), 0 or off, got {raw!r}")
    return port


class HealthServer:
    """A minimal HTTP/1.1 server for `/healthz` and `/readyz` (one request per connection)."""

    def __init__(self, checks: Mapping[str, Check]) -> None:
        self.checks = dict(checks)
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self, host: str = DEFAULT_HOST, port: int = 0) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, host, port)
        except OSError as err:
            raise SettingsError(
                f"cannot serve health checks on {host}:{port}: {err.strerror or err}"
            ) from None
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def answer(self, method: str, path: str) -> tuple[int, dict[str, Any]]:
        path = path.split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return 405, {"error": "method_not_allowed", "message": "use GET"}
        if path == "/healthz":
            return 200, {"status": "ok"}
        if path == "/readyz":
            return readiness(await run_checks(self.checks))
        return 404, {"error": "not_found", "message": "no such endpoint"}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            method, path, *_ = [*request.split(b"\r\n", 1)[0].decode("latin-1").split(" "), ""]
            status, body = await self.answer(method, path)
            payload = json.dumps(body).encode()
            head = (
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n"
                "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
            ).encode()
            writer.write(head if method == "HEAD" else head + payload)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


@contextlib.asynccontextmanager
async def serve_worker_health(
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    environ: Mapping[str, str] | None = None,
) -> AsyncIterator[HealthServer | None]:
    """Serve the worker's /healthz and /readyz on HEALTH_PORT for the block (None if unset)."""
    port = health_port(environ)
    if port is None:
        yield None
        return
    server = HealthServer(worker_checks(client, sessions, settings))
    await server.start(DEFAULT_HOST, port)
    print(f"health checks on http://{DEFAULT_HOST}:{server.port}/readyz", flush=True)
    try:
        yield server
    finally:
        await server.stop()
