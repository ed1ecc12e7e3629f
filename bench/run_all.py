"""`make bench`: every benchmark, each in its own process, then one summary.

    python -m bench.run_all            # sized to finish in under 10 minutes on 2 cores
    python -m bench.run_all --full     # the issue's sizes (waiting 10k twice, sweep 1k,
                                       # scale-out 1k): ~100 min
    python -m bench.run_all --only pipeline,sla_sweep

Results: bench/results/<name>.json (see bench/README.md for the method).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, SERVER_STATES, print_table

BENCH_DIR = Path(__file__).resolve().parent

# the pipeline compared once more with the dev server's state in memory (bench/README.md)
MEMORY = ["--no-bare-same-steps", "--server-state", "memory"]
QUICK: dict[str, list[str]] = {
    "pipeline": ["--n", "500", "--concurrency", "50"],
    "pipeline_memory": ["--n", "500", "--concurrency", "50", "--rounds", "1", *MEMORY],
    "phases": ["--n", "300", "--concurrency", "50"],
    "waiting_cache100": [
        *("--n", "600", "--hold", "20", "--in-flight", "50"),
        *("--opt", "max_cached_workflows=100"),
    ],
    "sla_sweep": ["--n", "200", "--sla", "90s"],
    "matching": ["--sizes", "1000,10000", "--matches", "50", "--db", "sqlite"],
}
FULL: dict[str, list[str]] = {
    "pipeline": ["--n", "500", "--concurrency", "50"],
    "pipeline_memory": ["--n", "500", "--concurrency", "50", *MEMORY],
    "phases": ["--n", "500", "--concurrency", "50"],
    "waiting": ["--n", "10000", "--hold", "60"],
    "waiting_cache100": ["--n", "10000", "--hold", "60", "--opt", "max_cached_workflows=100"],
    "sla_sweep": ["--n", "1000", "--sla", "420s"],
    "matching": ["--sizes", "1000,10000,100000"],
    "scaleout": ["--n", "1000", "--workers", "3"],
}
MODULES = {
    "pipeline": "bench.pipeline",
    "pipeline_memory": "bench.pipeline",
    "phases": "bench.phases",
    "waiting": "bench.waiting",
    "waiting_cache100": "bench.waiting",
    "sla_sweep": "bench.sla_sweep",
    "matching": "bench.matching",
    "scaleout": "bench.scaleout",
}


def run(name: str, args: list[str]) -> tuple[int, float]:
    module = MODULES[name]
    if not (BENCH_DIR / f"{module.rsplit('.', 1)[1]}.py").exists():
        print(f"== {name}: {module} not present, skipped", flush=True)
        return 0, 0.0
    extra = ["--out", name] if module != "bench.matching" else []
    cmd = [sys.executable, "-m", module, *args, *extra]
    print(f"\n== {name}: {' '.join(cmd[1:])}", flush=True)
    started = time.monotonic()
    code = subprocess.call(cmd)
    return code, time.monotonic() - started


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def loaded(names: Sequence[str], wanted: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, results) of each of `wanted` that ran (is in `names`) and wrote its results."""
    for name in wanted:
        data = load(name) if name in names else None
        if data:
            yield name, data


def summary(names: Sequence[str]) -> None:
    rows: list[dict[str, Any]] = []
    for _, pipeline in loaded(names, ("pipeline", "pipeline_memory")):
        v = pipeline["verdict"]
        where = SERVER_STATES[pipeline.get("server_state", "disk")]
        rows.append(
            {
                "benchmark": f"pipeline vs bare (server state {where})",
                "result": f"throughput {v['throughput_ratio']}× bare, "
                f"notify p99 {v['notify_p99_ratio']}× bare",
                "target": "≥ 0.8×, ≤ 1.5×",
            }
        )
    for name, data in loaded(names, ("waiting", "waiting_cache100")):
        s = data["summary"]
        options = s["worker_options"] or "defaults"
        rows.append(
            {
                "benchmark": f"{name} ({s['waiting']} waiting, {options})",
                "result": f"worker peak {s['worker_rss_peak_mb']:.0f} MB, hold growth "
                f"{s['worker_growth_during_hold_mb']} MB; server "
                f"{s['server_rss_end_mb']} MB; duplicate emails {s.get('duplicate_emails')}",
                "target": "worker ≤ 1024 MB, no growth, no duplicates",
            }
        )
    for _, sweep in loaded(names, ("sla_sweep",)):
        r = sweep["row"]
        rows.append(
            {
                "benchmark": f"SLA sweep ({r['n']} overdue at once)",
                "result": f"all reassigned in {r['all_reassigned_s']} s, "
                f"duplicates {r['duplicate_emails']}",
                "target": "duplicates = 0",
            }
        )
    for _, scaleout in loaded(names, ("scaleout",)):
        r = scaleout["report"]
        rows.append(
            {
                "benchmark": f"scale-out ({r['referrals']} referrals, "
                f"{len(r['workers'])} workers, faults: {len(r['faults'])})",
                "result": f"wrong {len(r['wrong'])}, lost {r['lost']}, duplicates "
                f"{r['duplicate_emails']}; {r['throughput']}",
                "target": "0 wrong, 0 lost, 0 duplicates",
            }
        )
    if rows:
        print_table(rows, ("benchmark", "result", "target"), "summary")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__)
    parser.add_argument("--full", action="store_true", help="the issue's full sizes")
    parser.add_argument("--only", default="", help="comma-separated subset of " + ",".join(FULL))
    args = parser.parse_args(argv)
    plan = FULL if args.full else QUICK
    names = [n for n in plan if not args.only or n in args.only.split(",")]
    failed = []
    for name in names:
        code, seconds = run(name, plan[name])
        print(f"== {name}: exit {code} after {seconds:.0f}s", flush=True)
        if code:
            failed.append(name)
    summary(names)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
