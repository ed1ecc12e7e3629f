"""The scale-out bench's processes: a fresh PostgreSQL database, one Temporal dev server that
can be restarted on its state file, the SMTP sink, several `worker.py` processes and the portal,
each a process of its own as in a deployment."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bench.common import free_port
from bench.sink import SinkProcess
from runtime.temporal import connect, start_dev_server
from settings import Settings

PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 90.0  # seconds for a process to answer /readyz


class ClusterError(RuntimeError):
    """A process of the cluster did not come up (the message names it and its log)."""


@dataclass
class Process:
    """One worker or portal process, its log, and where it answers."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    health_url: str  # GET → 200 once ready
    metrics_url: str = ""
    killed_at: float | None = None  # time.monotonic() of a SIGKILL
    last_metrics: str = ""  # the last scrape (a killed worker keeps its last one)

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@asynccontextmanager
async def fresh_database(admin_url: str = PG_ADMIN_URL) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards); yields its SQLAlchemy URL."""
    name = f"ft_scaleout_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    await admin(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Cluster:
    settings: Settings
    workdir: Path
    sink: SinkProcess
    env: WorkflowEnvironment
    ui_port: int
    payload_keys: str
    workers: list[Process] = field(default_factory=list)
    portal: Process | None = None
    server_restarts: list[tuple[float, float]] = field(default_factory=list)  # (down, up)

    @property
    def state_file(self) -> Path:
        return self.workdir / "temporal.db"

    def process_env(self, **extra: str) -> dict[str, str]:
        """The environment every worker and the portal share (one key ring, one secret)."""
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(
            TEMPORAL_ADDRESS=s.temporal_address,
            TEMPORAL_NAMESPACE=s.temporal_namespace,
            TEMPORAL_TASK_QUEUE=s.task_queue,
            DATABASE_URL=s.database_url,
            SMTP_HOST=s.smtp_host,
            SMTP_PORT=str(s.smtp_port),
            PAYLOAD_KEYS=self.payload_keys,
            LINK_SECRET=s.link_secret.get_secret_value(),
            PORTAL_URL=s.portal_url,
            METRICS_PORT="0",
        )
        if s.sla_override is not None:
            env["SLA_OVERRIDE"] = f"{s.sla_override.total_seconds():g}s"
        env.update(extra)
        return env

    def _spawn(self, name: str, args: list[str], **extra: str) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 (the child keeps it)
        try:
            return subprocess.Popen(
                [sys.executable, *args],
                cwd=ROOT,
                env=self.process_env(**extra),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()

    async def start_workers(self, count: int) -> list[Process]:
        """`count` more `python worker.py` processes, returned once each answers /readyz."""
        started = []
        for _ in range(count):
            name = f"worker-{len(self.workers) + 1}"
            health, metrics = free_port(), free_port()
            popen = self._spawn(
                name, ["worker.py"], HEALTH_PORT=str(health), METRICS_PORT=str(metrics)
            )
            proc = Process(
                name,
                popen,
                self.workdir / f"{name}.log",
                f"http://127.0.0.1:{health}/readyz",
                f"http://127.0.0.1:{metrics}/metrics",
            )
            self.workers.append(proc)
            started.append(proc)
        await asyncio.gather(*(wait_ready(p) for p in started))
        return started

    async def start_portal(self) -> Process:
        port = free_port()
        popen = self._spawn(
            "portal", ["-m", "portal"], PORTAL_HOST="127.0.0.1", PORTAL_PORT=str(port)
        )
        url = f"http://127.0.0.1:{port}"
        self.portal = Process("portal", popen, self.workdir / "portal.log", f"{url}/readyz")
        await wait_ready(self.portal)
        return self.portal

    @property
    def portal_url(self) -> str:
        assert self.portal is not None
        return self.portal.health_url.removesuffix("/readyz")

    def kill(self, proc: Process) -> None:
        """SIGKILL: no graceful shutdown, in-flight tasks are lost with the process."""
        proc.popen.send_signal(signal.SIGKILL)
        proc.popen.wait()
        proc.killed_at = time.monotonic()

    async def restart_server(self) -> None:
        """Stop the dev server and start it again on the same state file and port."""
        down = time.monotonic()
        await self.env.shutdown()
        self.env = await _dev_server(self.settings, self.state_file, self.ui_port)
        self.server_restarts.append((down, time.monotonic()))

    async def scrape(self, http: httpx.AsyncClient) -> None:
        """Keep each live worker's latest Prometheus exposition."""
        for proc in self.workers:
            if proc.alive and proc.metrics_url:
                with contextlib.suppress(httpx.HTTPError):
                    proc.last_metrics = (await http.get(proc.metrics_url, timeout=5)).text

    async def client(self) -> Client:
        """A client of its own (survives server restarts: it reconnects)."""
        return await connect(self.settings)


async def wait_ready(proc: Process, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            if not proc.alive:
                raise ClusterError(f"{proc.name} exited ({proc.log}):\n{proc.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(proc.health_url, timeout=5)).status_code == 200:
                    return
            await asyncio.sleep(0.3)
    raise ClusterError(f"{proc.name} not ready after {timeout:.0f} s ({proc.log}):\n{proc.tail()}")


def new_payload_keys() -> str:
    return "k1:" + base64.b64encode(secrets.token_bytes(32)).decode()


@asynccontextmanager
async def open_cluster(
    database_url: str, sla_override: timedelta | None, keep_logs: Path | None = None
) -> AsyncIterator[Cluster]:
    """The dev server (state on disk in a temporary directory) and the sink, configured for
    `database_url`; workers and the portal are started by the caller. Every process is
    stopped afterwards; with `keep_logs` the processes' logs are copied there."""
    workdir = Path(tempfile.mkdtemp(prefix="ft-scaleout-"))
    sink = SinkProcess()
    cluster: Cluster | None = None
    try:
        await sink.start()
        payload_keys = new_payload_keys()
        settings = replace(
            Settings(),
            temporal_address=f"127.0.0.1:{free_port()}",
            task_queue=f"scaleout-{uuid.uuid4().hex[:6]}",
            database_url=database_url,
            smtp_host="127.0.0.1",
            smtp_port=sink.port,
            smtp_timeout=30.0,
            sla_override=sla_override,
            link_secret=SecretStr(secrets.token_urlsafe(32)),
            payload_keys=SecretStr(payload_keys),
        )
        ui_port = free_port()
        env = await _dev_server(settings, workdir / "temporal.db", ui_port)
        cluster = Cluster(settings, workdir, sink, env, ui_port, payload_keys)
        yield cluster
    finally:
        if cluster is not None:
            await _stop(cluster)
        await sink.stop()
        if keep_logs is not None:
            keep_logs.mkdir(parents=True, exist_ok=True)
            for log in workdir.glob("*.log"):
                shutil.copy(log, keep_logs / log.name)
        shutil.rmtree(workdir, ignore_errors=True)


async def _dev_server(settings: Settings, state_file: Path, ui_port: int) -> WorkflowEnvironment:
    """The dev server, started again if it missed the SDK's start-up limit (a loaded machine)."""
    for attempt in range(3):
        try:
            return await start_dev_server(settings, state_file, ui_port)
        except RuntimeError:
            if attempt == 2:
                raise
            await asyncio.sleep(2)
    raise AssertionError("unreachable")


async def _stop(cluster: Cluster) -> None:
    procs = [*cluster.workers, *([cluster.portal] if cluster.portal else [])]
    for proc in procs:
        if proc.alive:
            proc.popen.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            await asyncio.to_thread(proc.popen.wait, 40)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait()
    await cluster.env.shutdown()
