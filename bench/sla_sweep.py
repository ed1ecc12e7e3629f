"""SLA sweep: many deadlines pass at the same moment; how long until every referral is
reassigned and its new partner notified, and are any emails sent twice?

    python -m bench.sla_sweep [--n 1000] [--sla 120s] [--in-flight 200] [--out sla_sweep]

1. With SLA_OVERRIDE=`sla`, start `n` real referrals and wait until each one's first
   notification email arrived (the worker runs).
2. Stop the worker, wait until the last deadline has passed: now every referral is overdue
   at the same moment (Temporal keeps the fired timers).
3. Start a fresh worker (t=0) and time until every referral's *second* notification (the new
   partner) arrived. Count Message-IDs received more than once (must be 0) and check that the
   new partner differs from the first.

`sla` must exceed phase 1's duration, or early referrals expire while others still start.
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
    Arrival,
    bench_referral,
    describe_failures,
    gather_limited,
    message_prefix,
    ms,
    open_stack,
    partner_of,
    percentile,
    print_table,
    progress,
    write_results,
)
from bench.pipeline import parse_options
from domain import names
from domain.models import ReferralInput
from settings import parse_duration
from worker import build_worker

COLUMNS = (
    "n",
    "sla_s",
    "assign_phase_s",
    "reassigned",
    "all_reassigned_s",
    "reassign p50 ms",
    "reassign p99 ms",
    "same_partner",
    "duplicate_emails",
    "emails",
)


async def sweep(n: int, sla_s: float, in_flight: int, options: dict[str, Any]) -> dict[str, Any]:
    sla = parse_duration(f"{sla_s}s")
    async with open_stack(partners=200, sla_override=sla) as stack:
        queue = stack.queue("sla")
        settings = replace(stack.settings, task_queue=queue)
        rids = [f"BS-{i:06d}" for i in range(n)]
        first: dict[str, Arrival] = {}

        async def start(i: int) -> None:
            rid = rids[i]
            await stack.client.start_workflow(
                names.WORKFLOW_REFERRAL,
                ReferralInput(bench_referral(rid, i)),
                id=rid,
                task_queue=queue,
            )
            first[rid] = await stack.sink.wait_id(message_prefix(rid, 1, "notification"), 900)

        t0 = time.monotonic()
        async with (
            build_worker(stack.client, settings, stack.sessions, **options),
            progress("phase 1, first notification", lambda: len(first), n),
        ):
            started = await gather_limited(n, in_flight, start)
        assign_s = time.monotonic() - t0
        errors = describe_failures(started)
        if assign_s >= sla_s:
            print(f"warning: assigning took {assign_s:.0f}s ≥ SLA {sla_s:.0f}s: deadlines spread")
        last_due = max((a.at for a in first.values()), default=t0) + sla_s
        pause = max(0.0, last_due - time.monotonic()) + 2.0
        print(
            f"  worker stopped; waiting {pause:.0f} s until every deadline has passed", flush=True
        )
        await asyncio.sleep(pause)

        resumed = time.monotonic()
        second: dict[str, Arrival] = {}

        async def reassigned(rid: str) -> None:
            second[rid] = await stack.sink.wait_id(message_prefix(rid, 2, "notification"), 900)

        async with (
            build_worker(stack.client, settings, stack.sessions, **options),
            progress("phase 2, reassigned and notified", lambda: len(second), len(first)),
        ):
            waited = await asyncio.gather(*(reassigned(r) for r in first), return_exceptions=True)
        errors = "; ".join(e for e in (errors, describe_failures(waited)) if e)
        latencies = [a.at - resumed for a in second.values()]
        same = sum(1 for r, a in second.items() if partner_of(a) == partner_of(first[r]))
        row = {
            "n": n,
            "sla_s": sla_s,
            "assign_phase_s": round(assign_s, 1),
            "reassigned": len(second),
            "all_reassigned_s": round(max(latencies), 1) if latencies else None,
            "reassign p50 ms": ms(percentile(latencies, 0.5)),
            "reassign p99 ms": ms(percentile(latencies, 0.99)),
            "same_partner": same,
            "duplicate_emails": len(stack.sink.duplicates()),
            "duplicate_ids": sorted(stack.sink.duplicates()),
            "emails": sum(stack.sink.count_by_id.values()),
            "errors": errors,
            "worker_options": {k: str(v) for k, v in options.items()},
        }
    table = print_table([row], COLUMNS, "SLA sweep: every deadline passed, worker resumes at t=0")
    ok = row["reassigned"] == n and row["duplicate_emails"] == 0 and same == 0
    print("OK" if ok else f"NOT OK: {errors or row}")
    return {"row": row, "table": table, "ok": ok}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sla_sweep", description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--sla", default="120s", help="SLA_OVERRIDE for the run (e.g. 20s)")
    parser.add_argument("--in-flight", type=int, default=200)
    parser.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default="sla_sweep")
    args = parser.parse_args(argv)
    sla_s = parse_duration(args.sla).total_seconds()
    result = uvloop.run(sweep(args.n, sla_s, args.in_flight, parse_options(args.opt)))
    write_results(args.out, result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
