"""The notification's render time, today's against the renderer before translations (issue 28).

`python -m bench.render [--base 8522cf6] [--rounds 41] [--batch 100]`

The base commit's tree is unpacked (`git archive`) into a temporary directory. Two worker
processes start, one importing the base tree's `mail.compose` and one this tree's; each renders
the sample Benefit notification (`mail.samples`) with `compose()`, i.e. the Jinja render of the
HTML and text parts, CSS inlining and the MIME message. The rounds alternate between the
versions and languages (base; `en`; `de`, in a rotating order) so that the shared machine's load
falls on all of them alike; each round times `--batch` renders. Reported: the median
milliseconds per notification of each, and the ratio to the base's median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def worker() -> None:
    """Read `<renders> <locale>` lines; answer each with the seconds the renders took."""
    import dataclasses

    from mail import compose as compose_module
    from mail import samples
    from settings import Settings

    settings = Settings(
        mail_from="FastTrack Referrals <referrals@fasttrack.localhost>",
        portal_url="https://portal.fasttrack.example",
        ops_email="ops@fasttrack.example",
    )
    base = samples.request("notification")
    links = samples.links()
    requests = {}
    for line in sys.stdin:
        count, tag = line.split()
        if tag not in requests:
            request = base
            if tag != "-" and base.partner is not None:
                partner = dataclasses.replace(base.partner, locale=tag)
                request = dataclasses.replace(base, partner=partner)
            requests[tag] = request
        request = requests[tag]
        started = time.process_time()
        for _ in range(int(count)):
            compose_module.compose(request, settings, links)
        print(time.process_time() - started, flush=True)


class _Renderer:
    def __init__(self, tree: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker"],
            cwd=tree,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, count: int, tag: str) -> float:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{count} {tag}\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise SystemExit("error: a render worker stopped (see its output above)")
        return float(answer)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def _unpack(commit: str, target: Path) -> None:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit],
        check=True,
        capture_output=True,
    ).stdout
    archive_path = target / "base.tar"
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(target / "tree", filter="data")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="8522cf6", help="the commit before translations")
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--batch", type=int, default=100, help="renders per round")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the tree to measure (compiled)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker()
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        _unpack(args.base, Path(tmp))
        old, new = _Renderer(Path(tmp) / "tree"), _Renderer(args.tree.resolve())
        runs = [("base", old, "-"), ("en", new, "en"), ("de", new, "de")]
        try:
            for _name, renderer, tag in runs:  # warm-up: imports, templates, catalogs
                renderer.run(max(10, args.batch // 5), tag)
            samples: dict[str, list[float]] = {name: [] for name, _r, _t in runs}
            for number in range(args.rounds):
                shift = number % len(runs)
                for name, renderer, tag in runs[shift:] + runs[:shift]:
                    seconds = renderer.run(args.batch, tag)
                    samples[name].append(seconds / args.batch * 1000)
        finally:
            old.close()
            new.close()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    lines = [
        f"{'version':<8} {'median ms':>10} {'ratio':>7}",
        *(f"{name:<8} {ms:>10.3f} {ms / medians['base']:>7.3f}" for name, ms in medians.items()),
    ]
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {
        "base": args.base,
        "tree": str(args.tree),
        "rounds": args.rounds,
        "batch": args.batch,
        "load_average": os.getloadavg(),
        "median_ms": medians,
        "ratio": {name: ms / medians["base"] for name, ms in medians.items()},
        "samples_ms": samples,
        "table": table,
    }
    (RESULTS / "render.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
