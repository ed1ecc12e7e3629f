"""Pipeline vs bare: throughput and latency of the real referral pipeline against a bare
Temporal workflow of the same shape, in one process, on one dev server, in the same run.

    python -m bench.pipeline [--n 500] [--concurrency 50] [--warmup 20] [--rounds 3]
                             [--opt max_concurrent_activities=200 ...] [--no-bare-same-steps]
                             [--server-state disk|memory]

Rounds: the bare and the pipeline take turns, `--rounds` times each (bare first in odd
rounds, pipeline first in even ones), so that both see the same minutes of a shared, noisy
machine. Each round's rows are printed with their ratio to the bare of the same round; the
verdict is the pooled one: every round's referrals over every round's time, for each side,
and latency percentiles over all their samples.

Server state: on disk (the default) the dev server's synced writes bound the bare and
mostly the pipeline too; in memory (`--server-state memory`, a state file on /dev/shm) both
sides are bound by CPU, so the ratio is that of CPU per referral (bench/README.md).

Pipeline: the real worker (`worker.build_worker`), matching on SQLite with 200 partners,
templates, SMTP to a sink in its own process (`bench.sink`), read-model/audit writes. Each
referral: start → notification email received by the sink → update `accept` → update
`complete` → result. Both run on uvloop, as the worker does.
Bare (`bench.bare`): start → first activity done → `accept` → `complete` → result.
"bare-same-steps" (bare-4-local) is the bare workflow with the pipeline's shape (4 local
activities), separating the cost of Temporal from the cost of our activities and workflow.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import uvloop
from temporalio.worker import PollerBehaviorAutoscaling, PollerBehaviorSimpleMaximum

from bench.bare import WORKFLOW_BARE, BareInput, FirstDone, build_bare_worker
from bench.common import (
    MEMORY_DIR,
    SERVER_STATES,
    Stack,
    cpu_seconds,
    describe_failures,
    drive_referral,
    failures,
    gather_limited,
    ms,
    open_stack,
    percentile,
    print_table,
    progress,
    write_results,
)
from worker import build_worker

# the activities of a referral's happy path: match, and a publish per change (assigned and
# notified, accepted, completed)
PIPELINE_ACTIVITIES = 4
COLUMNS = (
    "run",
    "n",
    "wf/s",
    "ratio",
    "notify p50 ms",
    "notify p99 ms",
    "notify p99 ratio",
    "complete p50 ms",
    "complete p99 ms",
    "worker cpu ms/wf",
    "server cpu ms/wf",
    "sink cpu ms/wf",
    "errors",
)


@dataclass
class Sample:
    notify: float
    complete: float


@dataclass
class Run:
    name: str
    n: int
    concurrency: int
    elapsed: float
    samples: list[Sample] = field(default_factory=list)
    errors: str = ""
    error_count: int = 0
    worker_cpu: float = 0.0  # CPU seconds of this process (worker + driver)
    server_cpu: float = 0.0  # CPU seconds of the Temporal dev server
    sink_cpu: float = 0.0  # CPU seconds of the SMTP sink process

    @classmethod
    def pooled(cls, name: str, runs: Sequence[Run]) -> Run:
        """All `runs` as one: their referrals over their summed time, CPU summed."""
        run = cls(name, sum(r.n for r in runs), runs[0].concurrency, sum(r.elapsed for r in runs))
        for r in runs:
            run.samples += r.samples
            run.error_count += r.error_count
            run.worker_cpu += r.worker_cpu
            run.server_cpu += r.server_cpu
            run.sink_cpu += r.sink_cpu
        run.errors = "; ".join(r.errors for r in runs if r.errors)
        return run

    @property
    def throughput(self) -> float:
        return len(self.samples) / self.elapsed if self.elapsed else 0.0

    def row(self, baseline: Run | None) -> dict[str, Any]:
        notify = [s.notify for s in self.samples]
        done = [s.complete for s in self.samples]
        row: dict[str, Any] = {
            "run": self.name,
            "n": self.n,
            "concurrency": self.concurrency,
            "elapsed_s": round(self.elapsed, 2),
            "wf/s": round(self.throughput, 2),
            "notify p50 ms": ms(percentile(notify, 0.5)),
            "notify p99 ms": ms(percentile(notify, 0.99)),
            "complete p50 ms": ms(percentile(done, 0.5)),
            "complete p99 ms": ms(percentile(done, 0.99)),
            "worker cpu ms/wf": ms(self.worker_cpu / max(1, len(self.samples))),
            "server cpu ms/wf": ms(self.server_cpu / max(1, len(self.samples))),
            "sink cpu ms/wf": ms(self.sink_cpu / max(1, len(self.samples))),
            "errors": self.error_count,
            "error_kinds": self.errors,
        }
        if baseline is not None and baseline.samples:
            base_p99 = percentile([s.notify for s in baseline.samples], 0.99)
            row["ratio"] = round(self.throughput / baseline.throughput, 3)
            row["notify p99 ratio"] = round(percentile(notify, 0.99) / base_p99, 2)
        return row


async def drive(
    stack: Stack, name: str, n: int, concurrency: int, one: Callable[[int], Awaitable[Sample]]
) -> Run:
    finished = 0

    async def counted(i: int) -> Sample:
        nonlocal finished
        try:
            return await one(i)
        finally:
            finished += 1

    cpu0, server0 = cpu_seconds(), cpu_seconds(stack.server_pid)
    sink0 = cpu_seconds(stack.sink.pid)
    started = time.monotonic()
    async with progress(f"{name}, completed", lambda: finished, n):
        results = await gather_limited(n, concurrency, counted)
    elapsed = time.monotonic() - started
    ok = [r for r in results if isinstance(r, Sample)]
    run = Run(name, n, concurrency, elapsed, ok, describe_failures(results))
    run.error_count = len(failures(results))
    run.worker_cpu = cpu_seconds() - cpu0
    run.server_cpu = cpu_seconds(stack.server_pid) - server0
    run.sink_cpu = cpu_seconds(stack.sink.pid) - sink0
    return run


async def run_pipeline(
    stack: Stack, n: int, concurrency: int, tag: str, options: dict[str, Any]
) -> Run:
    queue = stack.queue("pipeline")
    settings = replace(stack.settings, task_queue=queue)
    worker = build_worker(stack.client, settings, stack.sessions, **options)

    async def one(i: int) -> Sample:
        t0 = time.monotonic()
        arrival = await drive_referral(stack, queue, f"BP-{tag}-{i:06d}", i)
        return Sample(arrival.at - t0, time.monotonic() - t0)

    async with worker:
        run = await drive(stack, "pipeline", n, concurrency, one)
    stack.sink.forget()
    return run


async def run_bare(
    stack: Stack,
    n: int,
    concurrency: int,
    tag: str,
    options: dict[str, Any],
    extra: int = 0,
    name: str = "bare",
    local: bool = False,
) -> Run:
    queue = stack.queue("bare")
    probe = FirstDone()
    worker = build_bare_worker(stack.client, queue, probe, **options)

    async def one(i: int) -> Sample:
        key = f"BB-{tag}-{i:06d}"
        t0 = time.monotonic()
        waiter = asyncio.ensure_future(probe.wait(key))
        handle = await stack.client.start_workflow(
            WORKFLOW_BARE, BareInput(key, extra, local), id=key, task_queue=queue, result_type=str
        )
        first = await waiter
        await handle.execute_update("accept", "p", result_type=str)
        await handle.execute_update("complete", "p", result_type=str)
        if await handle.result() != "completed":
            raise RuntimeError(f"{key} did not complete")
        return Sample(first - t0, time.monotonic() - t0)

    async with worker:
        return await drive(stack, name, n, concurrency, one)


async def compare(
    n: int,
    concurrency: int,
    warmup: int,
    options: dict[str, Any],
    same_steps: bool = True,
    pipeline_only: bool = False,
    rounds: int = 1,
    server_state: str = "disk",
) -> dict[str, Any]:
    async with open_stack(partners=200, server_state=server_state) as stack:
        if warmup:
            if not pipeline_only:
                await run_bare(stack, warmup, concurrency, "warm", options)
            await run_pipeline(stack, warmup, concurrency, "warm", options)
        bares: list[Run] = []
        pipelines: list[Run] = []
        for r in range(1, rounds + 1):
            print(f"round {r} of {rounds}", flush=True)
            bare_first = r % 2 == 1
            if bare_first and not pipeline_only:
                bares.append(await run_bare(stack, n, concurrency, f"m{r}", options))
            pipelines.append(await run_pipeline(stack, n, concurrency, f"m{r}", options))
            if not bare_first and not pipeline_only:
                bares.append(await run_bare(stack, n, concurrency, f"m{r}", options))
        extra_run = None
        if same_steps and not pipeline_only:
            extra = PIPELINE_ACTIVITIES - 2
            name = f"bare-{PIPELINE_ACTIVITIES}-local"
            extra_run = await run_bare(stack, n, concurrency, "s", options, extra, name, True)
        duplicates = stack.sink.duplicates()
    rows: list[dict[str, Any]] = []
    if rounds > 1:
        for r, pipeline_run in enumerate(pipelines, start=1):
            base = bares[r - 1] if bares else None
            for run in ([base] if base else []) + [pipeline_run]:
                rows.append({**run.row(base), "run": f"{run.name} r{r}"})
    bare = Run.pooled("bare", bares) if bares else None
    pipeline = Run.pooled("pipeline", pipelines)
    pooled = [r.row(bare) for r in ([bare] if bare else []) + [pipeline]]
    if rounds > 1:
        for row in pooled:
            row["run"] = f"{row['run']} (all)"
    rows += pooled
    if extra_run is not None:
        rows.append(extra_run.row(bare))
    title = (
        f"pipeline vs bare (n={n} per run, concurrency={concurrency}, rounds={rounds}, "
        f"server state {SERVER_STATES[server_state]})"
    )
    table = print_table(rows, COLUMNS, title)
    verdict_row = pooled[-1]
    round_ratios = [
        round(p.throughput / b.throughput, 3)
        for b, p in zip(bares, pipelines, strict=False)  # no bares: pipeline only
        if b.throughput
    ]
    verdict = {
        "throughput_ratio": verdict_row.get("ratio"),
        "throughput_target": 0.8,
        "round_ratios": round_ratios,
        "notify_p99_ratio": verdict_row.get("notify p99 ratio"),
        "notify_p99_target": 1.5,
        "duplicate_emails": len(duplicates),
    }
    each = f" (rounds: {', '.join(f'{x:.3f}' for x in round_ratios)})" if rounds > 1 else ""
    print(
        f"pipeline/bare throughput {verdict['throughput_ratio']}{each} (target ≥ 0.8), "
        f"notification p99 {verdict['notify_p99_ratio']}× bare (target ≤ 1.5), "
        f"duplicate Message-IDs: {len(duplicates)}"
    )

    return {
        "worker_options": {k: str(v) for k, v in options.items()},
        "server_state": server_state,
        "rounds": rounds,
        "rows": rows,
        "verdict": verdict,
        "table": table,
    }


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """`key=value` pairs for `Worker(**options)`; `*_timeout` values are seconds,
    `*_poller_behavior` values `autoscaling` or a number (the simple maximum)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        key = key.strip()
        if key.endswith("_poller_behavior"):
            options[key] = (
                PollerBehaviorAutoscaling()
                if value == "autoscaling"
                else PollerBehaviorSimpleMaximum(int(value))
            )
            continue
        number = float(value) if "." in value else int(value)
        options[key] = timedelta(seconds=number) if key.endswith("_timeout") else number
    return options


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--rounds", type=int, default=3, help="bare and pipeline runs, taking turns"
    )
    parser.add_argument(
        "--opt", action="append", default=[], metavar="KEY=VALUE", help="Worker(**options)"
    )
    parser.add_argument("--no-bare-same-steps", action="store_true")
    parser.add_argument(
        "--server-state",
        choices=sorted(SERVER_STATES),
        default="disk",
        help="where the dev server keeps its state file: disk (the temporary directory, "
        "writes synced: the server's disk bounds both sides) or memory (/dev/shm: both "
        "sides bound by CPU)",
    )

    parser.add_argument("--pipeline-only", action="store_true", help="for profiling")
    parser.add_argument("--out", default="pipeline", help="results/<out>.json")
    args = parser.parse_args(argv)
    if args.server_state == "memory" and not MEMORY_DIR.is_dir():
        parser.error(f"--server-state memory needs {MEMORY_DIR} (a tmpfs), which is missing")
    options = parse_options(args.opt)
    result = uvloop.run(
        compare(
            args.n,
            args.concurrency,
            args.warmup,
            options,
            not args.no_bare_same_steps,
            args.pipeline_only,
            max(1, args.rounds),
            args.server_state,
        )
    )
    write_results(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
