"""Many referrals from one file, started concurrently, then listed page by page: a real dev
server (no worker needed: visibility shows the started workflows' initial attributes)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from runtime.temporal import start_dev_server
from settings import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
COUNT = 25


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def referral(i: int) -> dict[str, Any]:
    return {
        "referral_id": f"FT-PAGE-{i:03d}",
        "type": "standard" if i % 2 else "benefit",
        "customer": {
            "name": "Fabrikam Ltd",
            "country": "DE",
            "language": "de",
            "segment": "commercial",
            "seats": 500,
        },
        "workloads": ["teams"],
    }


@pytest_asyncio.fixture
async def env(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    address = f"127.0.0.1:{free_port()}"
    server = await start_dev_server(
        Settings(temporal_address=address), state_file=tmp_path / "t.db", ui_port=free_port()
    )
    try:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "DATABASE_"))}
        base.update(
            TEMPORAL_ADDRESS=address,
            TEMPORAL_TASK_QUEUE="cli-paging-no-worker",
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        )
        yield base
    finally:
        await server.shutdown()


async def cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "starter.py"),
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert "Traceback" not in err.decode(), err.decode()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_a_list_file_starts_concurrently_and_lists_page_by_page(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "many.json"
    items = [referral(i) for i in range(COUNT)]
    path.write_text(json.dumps([*items, items[0]]))  # the same referral twice: started once
    code, out, err = await cli(env, "referral", "create", str(path), "--concurrency", "4")
    assert code == 0, err
    assert out.splitlines() == [r["referral_id"] for r in items]  # in the file's order
    code, out, _ = await cli(env, "referral", "create", str(path), "--json")
    assert json.loads(out) == [{"referral_id": r["referral_id"], "created": False} for r in items]

    deadline = time.monotonic() + 20
    while True:  # visibility is eventually consistent
        code, out, err = await cli(env, "referral", "list", "--all", "--json")
        if len(json.loads(out)) == COUNT or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    everything = json.loads(out)
    assert code == 0 and err == ""
    assert sorted(r["referral_id"] for r in everything) == [r["referral_id"] for r in items]

    code, out, err = await cli(env, "referral", "list", "--limit", "10", "--json")
    first = json.loads(out)
    assert len(first) == 10
    match = re.fullmatch(
        r"note: showing 10 referrals, more match: continue with --after (\S+) \(same filters\), "
        r"or use --all or a larger --limit\n",
        err,
    )
    assert match, err
    seen = [r["referral_id"] for r in first]
    token: str | None = match.group(1)
    while token:
        code, out, err = await cli(
            env, "referral", "list", "--limit", "10", "--json", "--after", token
        )
        assert code == 0, err
        seen += [r["referral_id"] for r in json.loads(out)]
        found = re.search(r"--after (\S+) ", err)
        token = found.group(1) if found else None
    assert seen == [r["referral_id"] for r in everything]  # every page, in order, no repeats

    code, out, err = await cli(env, "referral", "list", "--limit", str(COUNT))
    assert code == 0 and err == ""  # exactly all of them: nothing was cut, no note
    assert len(out.splitlines()) == COUNT + 1 and "\x1b" not in out
    code, out, err = await cli(env, "referral", "list", "--type", "benefit", "--limit", "3")
    assert "more match" in err and len(out.splitlines()) == 4
