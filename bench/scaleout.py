"""Scale-out, proven: `worker.py` processes, the portal, PostgreSQL and one dev server; a mix of
referrals driven through the portal while one worker is SIGKILLed and the dev server restarted.

    python -m bench.scaleout                     # 3 workers, 1,000 referrals, vs 1 worker
    python -m bench.scaleout --n 100 --workers 2 --compare 0 --no-restart

Every referral must end in the state its kind expects, none lost, no Message-ID twice (but
those a killed worker sent just before it died); the report gives each worker's share of the
activities and the throughput of all workers against one (bench/README.md, "Scale-out").
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.cluster import Cluster, fresh_database, open_cluster
from bench.common import (
    bench_partners,
    bench_referral,
    environment,
    message_prefix,
    partner_of,
    print_table,
    progress,
    write_results,
)
from bench.scaleout_drive import SPLIT_WORKLOADS, Driver, Kind, activity_count
from db.directory import PartnerDirectory
from db.engine import open_database
from db.readmodel import ReferralReadModel
from db.tokens import TokenStore
from settings import parse_duration
from tests.factories import partner


@dataclass
class Plan:
    n: int = 1000  # referrals in the mixed run
    workers: int = 3
    sla: timedelta = timedelta(seconds=60)  # SLA_OVERRIDE: every answer window
    concurrency: int = 50  # requests in flight; referrals between start and notification
    compare: int = 200  # complete-path referrals with one worker, then all (0: no comparison)
    kill_at: float = 0.35  # SIGKILL the last worker once this share of referrals is notified
    restart_at: float | None = 0.65  # restart the dev server then (None: never)
    partners: int = 200
    deadline: timedelta = timedelta(minutes=20)  # the mixed run's drivers are stopped then
    keep_logs: Path | None = None
    kinds: tuple[Kind, ...] = ("accept", "decline", "expire", "split", "complete")  # in turn


@dataclass
class Report:
    plan: dict[str, Any]
    referrals: int = 0
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> expected/reached
    wrong: list[str] = field(default_factory=list)  # "<id> <kind>: <what was found>"
    lost: int = 0  # started but not found in its expected state
    unfinished: int = 0  # still on their way when the run's deadline came
    emails: int = 0
    duplicate_emails: int = 0
    duplicates: list[str] = field(default_factory=list)  # the Message-IDs that arrived twice
    # of those, the ones whose first copy arrived before a worker was killed and the next after:
    # sent by the killed worker, which died before recording it (the outbox's known window)
    sent_by_killed_worker: int = 0
    workers: list[dict[str, Any]] = field(default_factory=list)
    # partner actions refused "not assigned" right after the notification, then accepted
    not_yet_assigned: dict[str, int] = field(default_factory=dict)
    throughput: dict[str, float] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def unexplained_duplicates(self) -> int:
        return len(self.duplicates) - self.sent_by_killed_worker

    @property
    def ok(self) -> bool:
        return not self.wrong and self.lost == 0 and self.unexplained_duplicates == 0


async def run(plan: Plan) -> Report:
    """Set everything up, run the comparison and the mixed run, check and report."""
    async with fresh_database() as url:
        engine, sessions = await open_database(url)  # migrated once, before any worker
        try:
            split_only = [SPLIT_WORKLOADS[i % 2] for i in range(20)]  # 10 partners each
            directory = [
                *bench_partners(plan.partners),
                *(partner(f"{8_100_000 + i}", workloads=[w]) for i, w in enumerate(split_only)),
            ]
            now = datetime.now(UTC)
            await PartnerDirectory(sessions).upsert(directory, now)
            store = TokenStore(sessions)
            tokens = {p.mpn_id: await store.issue(p.mpn_id, now) for p in directory}
        finally:
            await engine.dispose()
        async with open_cluster(url, plan.sla, plan.keep_logs) as cluster:
            return await _run(plan, cluster, tokens)


async def _run(plan: Plan, cluster: Cluster, tokens: dict[str, str]) -> Report:
    engine, sessions = await open_database(cluster.settings.database_url)
    try:
        return await _drive(plan, cluster, tokens, ReferralReadModel(sessions))
    finally:
        await engine.dispose()


async def _drive(
    plan: Plan, cluster: Cluster, tokens: dict[str, str], readmodel: ReferralReadModel
) -> Report:
    report = Report(plan={k: str(v) for k, v in asdict(plan).items()})
    started_at = time.monotonic()
    await cluster.start_workers(1)
    await cluster.start_portal()
    client = await cluster.client()
    limits = httpx.Limits(max_connections=plan.concurrency * 2)
    async with (
        httpx.AsyncClient(base_url=cluster.portal_url, timeout=60, limits=limits) as portal,
        httpx.AsyncClient() as scraper,
    ):
        driver = Driver(cluster, client, portal, tokens, plan.sla, readmodel, plan.concurrency)
        scraping = asyncio.create_task(_scrape_every(cluster, scraper, 2.0))
        try:
            if plan.compare:
                one = await _throughput(driver, "one", plan.compare, plan.concurrency)
                report.throughput["one_worker_wf_s"] = one
            await cluster.start_workers(plan.workers - 1)
            if plan.compare:
                every = await _throughput(driver, "all", plan.compare, plan.concurrency)
                report.throughput[f"{plan.workers}_workers_wf_s"] = every
                report.throughput["ratio"] = round(every / one, 2) if one else 0.0
            await cluster.scrape(scraper)
            before = {p.name: activity_count(p.last_metrics) for p in cluster.workers}
            t0 = time.monotonic()
            results = await _mixed(plan, cluster, driver, report)
            report.throughput["mixed_run_s"] = round(time.monotonic() - t0, 1)
        finally:
            await cluster.scrape(scraper)
            scraping.cancel()
    _check(report, results, cluster, before)
    report.not_yet_assigned = dict(sorted(driver.not_yet_assigned.items()))
    report.seconds = round(time.monotonic() - started_at, 1)
    return report


async def _scrape_every(cluster: Cluster, http: httpx.AsyncClient, every: float) -> None:
    while True:
        await cluster.scrape(http)
        await asyncio.sleep(every)


async def _throughput(driver: Driver, label: str, count: int, concurrency: int) -> float:
    """Complete-path referrals (accept, complete) at `concurrency`: workflows per second."""
    gate = asyncio.Semaphore(concurrency)
    t0 = time.monotonic()

    async def one(i: int) -> None:
        async with gate:
            rid = f"SO-{label}-{i:05d}"
            await driver.start(bench_referral(rid, i))
            mpn = partner_of(await driver.sink.wait_id(message_prefix(rid, 1, "notification")))
            await driver.act(rid, mpn, "accept")
            await driver.act(rid, mpn, "complete", {"vas_sold": False})

    await asyncio.gather(*(one(i) for i in range(count)))
    rate = round(count / (time.monotonic() - t0), 2)
    print(f"  {label}: {count} referrals, {rate} wf/s", flush=True)
    return rate


async def _mixed(
    plan: Plan, cluster: Cluster, driver: Driver, report: Report
) -> list[tuple[str, Kind, str]]:
    """The mixed run: kinds in turn, faults injected as the starts pass their marks."""
    kinds = plan.kinds
    plan_ids = [(f"SO-mix-{i:05d}", kinds[i % len(kinds)]) for i in range(plan.n)]
    faults = _faults(plan, cluster, driver, report)

    def done() -> str:
        return f"{driver.progressed} notified, {driver.finished} finished"

    async with progress("mixed run", done, plan.n, every=30):
        tasks = [
            asyncio.create_task(driver.drive(rid, kind, i, faults))
            for i, (rid, kind) in enumerate(plan_ids)
        ]
        _, pending = await asyncio.wait(tasks, timeout=plan.deadline.total_seconds())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    await driver.settled()
    stopped = [rid for (rid, _), task in zip(plan_ids, tasks, strict=True) if task.cancelled()]
    recorded = dict(zip(stopped, await asyncio.gather(*map(driver.recorded, stopped)), strict=True))
    out = []
    for (rid, kind), task in zip(plan_ids, tasks, strict=True):
        if task.cancelled():
            problem = f"Unfinished: still running after {plan.deadline.total_seconds():.0f} s"
            problem += f" | recorded: {recorded[rid]}"
        else:
            err = task.exception()
            problem = "" if err is None else f"{type(err).__name__}: {err}"
        out.append((rid, kind, problem))
    return out


def _faults(
    plan: Plan, cluster: Cluster, driver: Driver, report: Report
) -> Callable[[int], Coroutine[Any, Any, None]]:
    """Called with the number of referrals started and notified so far; injects each fault
    once, when that number passes its mark."""
    done: set[str] = set()
    t0 = time.monotonic()

    async def inject(started: int) -> None:
        if "kill" not in done and started >= plan.kill_at * plan.n and len(cluster.workers) > 1:
            done.add("kill")
            victim = cluster.workers[-1]
            async with httpx.AsyncClient() as http:
                await cluster.scrape(http)  # its share up to the kill
            cluster.kill(victim)
            report.faults.append(
                f"SIGKILL {victim.name} at {time.monotonic() - t0:.1f} s ({started} notified)"
            )
            print(f"  {report.faults[-1]}", flush=True)
        restart_at = plan.restart_at
        if "restart" not in done and restart_at is not None and started >= restart_at * plan.n:
            done.add("restart")
            await cluster.restart_server()
            down, up = cluster.server_restarts[-1]
            report.faults.append(
                f"dev server restarted at {down - t0:.1f} s ({started} notified), "
                f"back after {up - down:.1f} s"
            )
            print(f"  {report.faults[-1]}", flush=True)

    return inject


def _check(
    report: Report,
    results: list[tuple[str, Kind, str]],
    cluster: Cluster,
    before: dict[str, int],
) -> None:
    """Tally the end states, the emails, and each worker's activities in the mixed run
    (`before`: each worker's count when it began)."""
    report.referrals = len(results)
    counts: dict[str, Counter[str]] = {}
    for rid, kind, problem in results:
        tally = counts.setdefault(kind, Counter())
        tally["expected"] += 1
        if problem:
            report.wrong.append(f"{rid} {kind}: {problem[:300]}")
            if problem.startswith("Lost"):
                report.lost += 1
            if problem.startswith("Unfinished"):
                report.unfinished += 1
        else:
            tally["reached"] += 1
    report.by_kind = {k: dict(v) for k, v in counts.items()}
    report.emails = sum(cluster.sink.count_by_id.values())
    report.duplicate_emails = sum(n - 1 for n in cluster.sink.duplicates().values())
    report.duplicates = sorted(cluster.sink.duplicates())
    kills = [p.killed_at for p in cluster.workers if p.killed_at is not None]
    copies: dict[str, list[float]] = {mid: [] for mid in report.duplicates}
    for arrival in cluster.sink.arrivals:
        if arrival.message_id in copies:
            copies[arrival.message_id].append(arrival.at)
    report.sent_by_killed_worker = sum(
        1 for at in copies.values() if any(min(at) <= k < max(at) for k in kills)
    )
    shares = {
        p.name: activity_count(p.last_metrics) - before.get(p.name, 0) for p in cluster.workers
    }
    total = sum(shares.values()) or 1
    for proc in cluster.workers:
        report.workers.append(
            {
                "worker": proc.name,
                "activities": shares[proc.name],
                "share_pct": round(100 * shares[proc.name] / total, 1),
                "killed": proc.killed_at is not None,
            }
        )


def print_report(report: Report) -> None:
    rows = [{"kind": k, **v} for k, v in report.by_kind.items()]
    print_table(rows, ["kind", "expected", "reached"], "End states")
    print_table(report.workers, ["worker", "activities", "share_pct", "killed"], "Workers")
    print(f"\nthroughput: {report.throughput}")
    print(f"faults: {'; '.join(report.faults) or 'none'}")
    print(f"actions refused 'not assigned' at first, then taken: {report.not_yet_assigned}")
    print(
        f"lost {report.lost}, wrong {len(report.wrong)} (unfinished {report.unfinished}), "
        f"emails {report.emails}, duplicate Message-IDs {len(report.duplicates)} "
        f"({report.sent_by_killed_worker} sent by the killed worker before it died); "
        f"{report.seconds} s in all"
    )
    for line in [*report.wrong[:10], *report.duplicates[:10]]:
        print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=Plan.n)
    parser.add_argument("--workers", type=int, default=Plan.workers)
    parser.add_argument("--sla", default="60s", help="SLA_OVERRIDE for every window (60s)")
    parser.add_argument("--concurrency", type=int, default=Plan.concurrency)
    parser.add_argument("--compare", type=int, default=Plan.compare)
    parser.add_argument("--no-restart", action="store_true", help="do not restart the server")
    parser.add_argument("--deadline", default="20m", help="stop the mixed run's drivers then")
    parser.add_argument("--keep-logs", type=Path, default=None, metavar="DIR")
    parser.add_argument("--out", default="scaleout", help="results name (bench/results/NAME.json)")
    args = parser.parse_args()
    plan = Plan(
        n=args.n,
        workers=args.workers,
        sla=parse_duration(args.sla),
        concurrency=args.concurrency,
        compare=args.compare,
        restart_at=None if args.no_restart else Plan.restart_at,
        keep_logs=args.keep_logs,
        deadline=parse_duration(args.deadline),
    )
    report = asyncio.run(run(plan))
    print_report(report)
    write_results(args.out, {"report": asdict(report), "ok": report.ok, "env": environment()})
    raise SystemExit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
