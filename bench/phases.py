"""Where a referral's time goes in the pipeline benchmark: the latency of each phase.

    python -m bench.phases [--n 500] [--concurrency 50] [--opt KEY=VALUE ...]

The pipeline of `bench.pipeline` (real worker, same driver), with an activity interceptor
timing each local activity (match, the three publishes) and the driver timing its own calls:
start → first workflow task (the match begins) → match → publish 1 (the notification, the
SLA clock started) → notification received → update `accept` → publish 2 → update `complete`
→ publish 3 → result. Each phase: p50 / mean / p90 ms.
Also the time the process spent in garbage collection, per generation.

Phases between two of our activities are Temporal's (the workflow task's way through the
server, the worker's pollers and event loop); the activities' are ours.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import uvloop
from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from bench.common import (
    drive_referral,
    gather_limited,
    open_stack,
    print_table,
    progress,
    write_results,
)
from bench.pipeline import parse_options
from domain import names
from worker import build_worker

# (from, to, label): marks set by the driver and by the activity interceptor
PHASES = (
    ("start", "started", "start_workflow call"),
    ("started", "match+", "to the first workflow task (match begins)"),
    ("match+", "match-", "match (local activity)"),
    ("match-", "publish1+", "to publish 1"),
    ("publish1+", "publish1-", "publish 1: record, 2 emails"),
    ("arrived", "publish2+", "notification received to accept in the workflow"),
    ("publish2+", "publish2-", "publish 2: record, 1 email"),
    ("publish2-", "accepted", "to accept returned"),
    ("accepted", "publish3+", "complete sent to complete in the workflow"),
    ("publish3+", "publish3-", "publish 3: record, 1 email"),
    ("publish3-", "completed", "to complete returned"),
    ("completed", "result", "to the result"),
)


class Marks:
    def __init__(self) -> None:
        self.by_id: dict[str, dict[str, float]] = {}
        self.publishes: dict[str, int] = {}  # publications begun per workflow

    def set(self, workflow_id: str, key: str, at: float | None = None) -> None:
        self.by_id.setdefault(workflow_id, {})[key] = time.monotonic() if at is None else at

    def phase(self, a: str, b: str) -> list[float]:
        return sorted(m[b] - m[a] for m in self.by_id.values() if a in m and b in m)


class _Timed(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, marks: Marks) -> None:
        super().__init__(next)
        self._marks = marks

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        workflow_id = info.workflow_id or ""
        name = "match"
        if info.activity_type == names.ACTIVITY_PUBLISH:
            count = self._marks.publishes.get(workflow_id, 0) + 1
            self._marks.publishes[workflow_id] = count
            name = f"publish{count}"
        self._marks.set(workflow_id, f"{name}+")
        try:
            return await super().execute_activity(input)
        finally:
            self._marks.set(workflow_id, f"{name}-")


class _Timing(Interceptor):
    def __init__(self, marks: Marks) -> None:
        self._marks = marks

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Timed(next, self._marks)


class _GcClock:
    """Collections and seconds spent in them, per generation."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        generation = info["generation"]
        self.count[generation] += 1
        self.seconds[generation] += time.perf_counter() - self._began


async def measure(n: int, concurrency: int, options: dict[str, Any]) -> dict[str, Any]:
    marks = Marks()
    clock = _GcClock()
    async with open_stack(partners=200) as stack:
        queue = stack.queue("phases")
        settings = replace(stack.settings, task_queue=queue)
        interceptors = [_Timing(marks)]
        worker = build_worker(
            stack.client, settings, stack.sessions, interceptors=interceptors, **options
        )
        finished = 0

        async def one(i: int) -> None:
            nonlocal finished
            rid = f"BT-{i:06d}"
            marks.set(rid, "start")
            await drive_referral(stack, queue, rid, i, lambda step, at: marks.set(rid, step, at))
            finished += 1

        async with worker:
            gc.callbacks.append(clock)
            started = time.monotonic()
            try:
                async with progress("phases, completed", lambda: finished, n):
                    await gather_limited(n, concurrency, one)
            finally:
                gc.callbacks.remove(clock)
            elapsed = time.monotonic() - started
    rows = []
    for a, b, label in PHASES:
        values = marks.phase(a, b)
        if not values:
            continue
        rows.append(
            {
                "phase": label,
                "p50 ms": round(1000 * values[len(values) // 2], 1),
                "mean ms": round(1000 * statistics.fmean(values), 1),
                "p90 ms": round(1000 * values[int(len(values) * 0.9)], 1),
                "n": len(values),
            }
        )
    title = f"pipeline phases (n={n}, concurrency={concurrency}, {finished / elapsed:.2f} wf/s)"
    table = print_table(rows, ("phase", "p50 ms", "mean ms", "p90 ms", "n"), title)
    gc_line = (
        ", ".join(f"gen{g}: {clock.count[g]}× {clock.seconds[g]:.2f} s" for g in range(3))
        + f" in {elapsed:.1f} s"
    )
    print(f"garbage collection: {gc_line}")
    return {
        "worker_options": {k: str(v) for k, v in options.items()},
        "throughput": round(finished / elapsed, 2),
        "rows": rows,
        "gc": {"count": clock.count, "seconds": [round(s, 3) for s in clock.seconds]},
        "table": table,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.phases", description=__doc__)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--opt", action="append", default=[], metavar="KEY=VALUE", help="Worker(**options)"
    )
    parser.add_argument("--out", default="phases", help="results/<out>.json")
    args = parser.parse_args(argv)
    result = uvloop.run(measure(args.n, args.concurrency, parse_options(args.opt)))
    write_results(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
