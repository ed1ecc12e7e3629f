"""Workflow-side CPU per referral, without a server or activities: replay a saved history
(`tests/histories/`) N times with the worker's runner and data converter. Each replay pays
what a worker pays for a new workflow: the sandbox's re-import of the workflow code, every
activation and its payloads.

    python -m bench.replay_cpu [--n 300] [--history accept_complete]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from bench.common import compile_bytecode
from runtime.codec import converter_for
from settings import Settings
from worker import WORKFLOW_RUNNER, WORKFLOWS

HISTORIES = Path(__file__).resolve().parent.parent / "tests" / "histories"
KEY_FILE = HISTORIES / "test-payload-key.json"  # the key the histories were recorded with
WARMUP = 20


async def measure(n: int, history: str) -> float:
    """CPU milliseconds (this process, every thread) per replay."""
    replayer = Replayer(
        workflows=list(WORKFLOWS),
        workflow_runner=WORKFLOW_RUNNER,
        data_converter=converter_for(Settings(payload_key_file=KEY_FILE)),
    )
    text = (HISTORIES / f"{history}.v1.json").read_text()

    async def copies(count: int) -> AsyncIterator[WorkflowHistory]:
        for i in range(count):
            yield WorkflowHistory.from_json(f"replay-{i}", text)

    await replayer.replay_workflows(copies(WARMUP))
    started = time.process_time()
    await replayer.replay_workflows(copies(n))
    return (time.process_time() - started) / n * 1000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--history", default="accept_complete")
    args = parser.parse_args(argv)
    compile_bytecode()  # as an installed worker has it: else every replay compiles the workflow
    cpu = asyncio.run(measure(args.n, args.history))
    print(f"{args.history}: {cpu:.2f} ms CPU per replay (n={args.n})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
