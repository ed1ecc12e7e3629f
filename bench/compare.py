"""`make bench`'s headline figures of two result folders side by side, each change said as a
gain or a loss, and every loss over the allowed share flagged.

    python -m bench.compare OLD_RESULTS_DIR [NEW_RESULTS_DIR] [--allowed 0.10]

Run `make bench` in both checkouts one after the other (or alternating) on the same machine,
then compare their `bench/results/` folders; NEW defaults to this checkout's. Exit code 1
when a figure got worse by more than `--allowed` (a share of the old figure).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, print_table


@dataclass(frozen=True)
class Figure:
    file: str
    name: str
    higher_is_better: bool
    read: Callable[[dict[str, Any]], float | None]


def _matching(size: int, db: str) -> Callable[[dict[str, Any]], float | None]:
    def read(data: dict[str, Any]) -> float | None:
        rows = [r for r in data["rows"] if r["size"] == size and r["db"] == db]
        return rows[0]["match_p99_ms"] if rows else None

    return read


FIGURES = [
    Figure("pipeline", "throughput / bare", True, lambda d: d["verdict"]["throughput_ratio"]),
    Figure("pipeline", "notify p99 / bare", False, lambda d: d["verdict"]["notify_p99_ratio"]),
    Figure(
        "pipeline_memory", "throughput / bare", True, lambda d: d["verdict"]["throughput_ratio"]
    ),
    Figure("phases", "referrals per s", True, lambda d: d["throughput"]),
    Figure(
        "waiting_cache100",
        "worker RSS peak MB",
        False,
        lambda d: d["summary"]["worker_rss_peak_mb"],
    ),
    Figure("waiting_cache100", "starts per s", True, lambda d: d["summary"]["start_rate_per_s"]),
    Figure("sla_sweep", "all reassigned s", False, lambda d: d["row"]["all_reassigned_s"]),
    Figure("sla_sweep", "reassign p99 ms", False, lambda d: d["row"]["reassign p99 ms"]),
    Figure("matching", "p99 ms, 1k sqlite", False, _matching(1000, "sqlite")),
    Figure("matching", "p99 ms, 10k sqlite", False, _matching(10000, "sqlite")),
]


def _value(folder: Path, figure: Figure) -> float | None:
    path = folder / f"{figure.file}.json"
    if not path.exists():
        return None
    try:
        return figure.read(json.loads(path.read_text()))
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def compared(old: Path, new: Path, allowed: float) -> Iterator[dict[str, Any]]:
    for figure in FIGURES:
        before, after = _value(old, figure), _value(new, figure)
        row: dict[str, Any] = {
            "benchmark": figure.file,
            "figure": figure.name,
            "old": before,
            "new": after,
        }
        if before and after is not None:
            change = (after - before) / before
            better = change >= 0 if figure.higher_is_better else change <= 0
            row["change"] = f"{change:+.1%}" + ("" if better or change == 0 else " worse")
            row["verdict"] = "ok" if better or abs(change) <= allowed else "LOSS"
        yield row


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path, nargs="?", default=RESULTS_DIR)
    parser.add_argument("--allowed", type=float, default=0.10)
    args = parser.parse_args(argv)
    for folder in (args.old, args.new):
        if not folder.is_dir():
            parser.exit(2, f"error: {folder} is not a folder of results\n")
    rows = list(compared(args.old, args.new, args.allowed))
    print_table(rows, ("benchmark", "figure", "old", "new", "change", "verdict"))
    losses = [r for r in rows if r.get("verdict") == "LOSS"]
    print(f"{len(losses)} figure(s) worse by more than {args.allowed:.0%}")
    return 1 if losses else 0


if __name__ == "__main__":
    raise SystemExit(main())
