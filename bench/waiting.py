"""Memory while many referrals wait on their SLA timers (nobody answers).

    python -m bench.waiting [--n 10000] [--in-flight 200] [--hold 60] [--every 5]
                            [--opt max_cached_workflows=1000 ...] [--out waiting]

Starts `n` real referrals (real worker, SQLite, SMTP sink process) at most `in-flight` at a time
(a referral leaves the in-flight window when its notification email arrived, i.e. when it
sits on its 2-business-day timer), then holds for `hold` seconds. Samples this process's
RSS (worker + client) and the Temporal dev server's RSS every `every` seconds.
Run it once per worker setting: RSS is per process and Python rarely gives memory back.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import uvloop

from bench.common import (
    MemorySampler,
    bench_referral,
    describe_failures,
    gather_limited,
    message_prefix,
    open_stack,
    print_table,
    write_results,
)
from bench.pipeline import parse_options
from domain import names
from domain.models import ReferralInput
from worker import build_worker

COLUMNS = ("t_s", "phase", "waiting", "worker_rss_mb", "server_rss_mb")


async def measure(
    n: int, in_flight: int, hold: float, every: float, options: dict[str, Any]
) -> dict[str, Any]:
    async with open_stack(partners=200) as stack:
        queue = stack.queue("waiting")
        settings = replace(stack.settings, task_queue=queue)
        worker = build_worker(stack.client, settings, stack.sessions, **options)
        sampler = MemorySampler(stack.server_pid, every)
        waiting = 0

        def progress() -> dict[str, Any]:
            return {"waiting": waiting}

        sampler.sample("idle", waiting=0)
        async with worker:
            sampler.sample("worker up", waiting=0)
            sampler.start("starting", progress)
            started = time.monotonic()

            async def one(i: int) -> None:
                nonlocal waiting
                rid = f"BW-{i:06d}"
                await stack.client.start_workflow(
                    names.WORKFLOW_REFERRAL,
                    ReferralInput(bench_referral(rid, i)),
                    id=rid,
                    task_queue=queue,
                )
                await stack.sink.wait_id(message_prefix(rid, 1, "notification"), timeout=900)
                waiting += 1

            results = await gather_limited(n, in_flight, one)
            start_s = time.monotonic() - started
            await sampler.stop()
            stack.sink.forget()
            end_of_start = sampler.sample("all waiting", waiting=waiting)
            sampler.start("holding", progress)
            await asyncio.sleep(hold)
            await sampler.stop()
            end = sampler.sample("end of hold", waiting=waiting)
            duplicates = len(stack.sink.duplicates())
    held = [s for s in sampler.samples if s["phase"] in ("all waiting", "holding", "end of hold")]
    worker_held = [s["worker_rss_mb"] for s in held if s["worker_rss_mb"] is not None]
    server_held = [s["server_rss_mb"] for s in held if s["server_rss_mb"] is not None]
    summary = {
        "n": n,
        "waiting": waiting,
        "errors": describe_failures(results),
        "worker_options": {k: str(v) for k, v in options.items()},
        "start_phase_s": round(start_s, 1),
        "start_rate_per_s": round(waiting / start_s, 2) if start_s else None,
        "worker_rss_peak_mb": max(s["worker_rss_mb"] or 0 for s in sampler.samples),
        "worker_rss_all_waiting_mb": end_of_start["worker_rss_mb"],
        "worker_rss_end_mb": end["worker_rss_mb"],
        "worker_growth_during_hold_mb": round(max(worker_held) - worker_held[0], 1)
        if worker_held
        else None,
        "server_rss_all_waiting_mb": end_of_start["server_rss_mb"],
        "server_rss_end_mb": end["server_rss_mb"],
        "server_growth_during_hold_mb": round(max(server_held) - server_held[0], 1)
        if server_held
        else None,
        "worker_target_mb": 1024,
        "duplicate_emails": duplicates,
    }
    table = print_table(condensed(sampler.samples), COLUMNS, f"waiting (n={n}, options={options})")
    print(", ".join(f"{k}={v}" for k, v in summary.items()))
    return {"summary": summary, "samples": sampler.samples, "table": table}


def condensed(samples: list[dict[str, Any]], every: int = 6) -> list[dict[str, Any]]:
    """Every `every`-th periodic sample, plus every phase change (for the printed table)."""
    return [
        s
        for i, s in enumerate(samples)
        if i % every == 0 or i == len(samples) - 1 or s["phase"] != samples[i - 1]["phase"]
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.waiting", description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=200)
    parser.add_argument("--hold", type=float, default=60.0)
    parser.add_argument("--every", type=float, default=5.0)
    parser.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default="waiting")
    args = parser.parse_args(argv)
    result = uvloop.run(
        measure(args.n, args.in_flight, args.hold, args.every, parse_options(args.opt))
    )
    write_results(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
