"""Crash and outage tests against the real dev server and real worker processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from db.directory import PartnerDirectory
from db.engine import open_database
from db.readmodel import ReferralRow
from domain import names
from domain.models import ActionResult, PartnerAction, ReferralInput, ReferralState, Status
from portal import gateway
from portal.schemas import ApiError
from runtime.smtp_sink import MailSink
from runtime.temporal import start_dev_server
from settings import Settings
from tests.conftest import free_port
from tests.factories import partner, referral
from tests.pii import readable_history

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.integration


@dataclass
class Stack:
    env: WorkflowEnvironment
    settings: Settings
    sink: MailSink
    tmp: Path
    state_file: Path
    ui_port: int
    workers: list[subprocess.Popen[bytes]]

    @property
    def client(self) -> Client:
        return self.env.client

    def worker_env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            TEMPORAL_ADDRESS=self.settings.temporal_address,
            TEMPORAL_TASK_QUEUE=self.settings.task_queue,
            DATABASE_URL=self.settings.database_url,
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(self.sink.port),
            SLA_OVERRIDE="6s",
            PAYLOAD_KEY_FILE=str(self.tmp / "keys.json"),
            METRICS_PORT="0",
        )
        env.update(extra)
        return env

    def start_worker(self, *args: str, **extra_env: str) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"worker-{len(self.workers)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "worker.py", *args],
            cwd=ROOT,
            env=self.worker_env(**extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(proc)
        return proc

    async def state(self, wid: str) -> ReferralState:
        return await self.client.get_workflow_handle(wid).query(
            names.QUERY_DETAILS, result_type=ReferralState
        )

    async def until(
        self, wid: str, check: Callable[[ReferralState], bool], timeout: float = 60
    ) -> ReferralState:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = await self.state(wid)
                if check(last):
                    return last
            except Exception as err:  # server restarting, worker not up yet
                last = err
            await asyncio.sleep(0.25)
        raise AssertionError(f"{wid}: timed out, last: {last}")


@pytest_asyncio.fixture
async def s(tmp_path: Path) -> AsyncIterator[Stack]:
    port, ui_port = free_port(), free_port()
    settings = replace(
        Settings(),
        temporal_address=f"127.0.0.1:{port}",
        task_queue=f"faults-{uuid.uuid4().hex[:6]}",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        payload_key_file=tmp_path / "keys.json",
    )
    state_file = tmp_path / "temporal.db"
    env = await start_dev_server(settings, state_file=state_file, ui_port=ui_port)
    sink = MailSink(directory=None, echo=False)
    await sink.start("127.0.0.1", 0)
    engine, sessions = await open_database(settings.database_url)
    await PartnerDirectory(sessions).upsert([partner("1001"), partner("1002")], datetime.now(UTC))
    await engine.dispose()
    s = Stack(env, settings, sink, tmp_path, state_file, ui_port, [])
    yield s
    for proc in s.workers:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    await sink.stop()
    await s.env.shutdown()


async def start_referrals(s: Stack, count: int, prefix: str) -> list[str]:
    ids = []
    for n in range(count):
        rid = f"{prefix}-{n}"
        await s.client.start_workflow(
            names.WORKFLOW_REFERRAL,
            ReferralInput(referral(rid)),
            id=rid,
            task_queue=s.settings.task_queue,
        )
        ids.append(rid)
    return ids


def notifications(sink: MailSink, rid: str) -> list[str]:
    return [
        str(m["Message-ID"])
        for m in sink.messages
        if f"<{rid}." in str(m["Message-ID"]) and ".notification@" in str(m["Message-ID"])
    ]


async def test_worker_killed_deadlines_pass_new_worker_reassigns_exactly_once(s: Stack) -> None:
    s.start_worker()
    ids = await start_referrals(s, 5, "FT-KILL")
    for rid in ids:
        await s.until(rid, lambda st: bool(st.assignments) and st.assignments[0].due_at is not None)
    deadline = time.monotonic() + 30
    while any(not notifications(s.sink, rid) for rid in ids) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)

    s.workers[0].send_signal(signal.SIGKILL)
    s.workers[0].wait()
    await asyncio.sleep(8)  # every SLA deadline (6 s) passes while no worker runs

    s.start_worker("--max-cached-workflows", "0")
    for rid in ids:
        # second partner expires too (6 s later): nobody is left, so the referral escalates
        state = await s.until(rid, lambda st: st.status == "escalated", timeout=90)
        assert [a.outcome for a in state.assignments] == ["expired", "expired"]
        assert len({a.partner for a in state.assignments}) == 2
    counts = Counter(str(m["Message-ID"]) for m in s.sink.messages)
    assert counts and all(n == 1 for n in counts.values()), counts
    for rid in ids:
        assert len(notifications(s.sink, rid)) == 2  # one per assignment: none lost, none twice


async def test_dev_server_restart_with_state_file_referrals_continue(s: Stack) -> None:
    s.start_worker()
    [rid] = await start_referrals(s, 1, "FT-RESTART")
    state = await s.until(
        rid, lambda st: bool(st.assignments) and st.assignments[0].due_at is not None
    )
    who = state.assignments[0].partner

    await s.env.shutdown()
    s.env = await start_dev_server(s.settings, state_file=s.state_file, ui_port=s.ui_port)

    handle = s.client.get_workflow_handle(rid)
    result = await asyncio.wait_for(
        handle.execute_update("accept", PartnerAction(partner=who), result_type=ActionResult),
        timeout=60,
    )
    assert result.status == "active"
    await handle.execute_update(
        "complete", PartnerAction(partner=who, vas_sold=False), result_type=ActionResult
    )
    final = await s.until(rid, lambda st: st.status == "completed")
    assert final.assignments[0].outcome == "completed"


PII = (
    "Fabrikam",
    "it@fabrikam.example",
    "6f1c2d3e-0000-4000-8000-000000000001",
    "ae@microsoft.example",
    "ada@microsoft.example",
    "Ada Account",
)


async def test_no_pii_in_ids_search_attributes_raw_history_logs_or_metrics(s: Stack) -> None:
    metrics_port = free_port()
    s.start_worker(METRICS_PORT=str(metrics_port))
    [rid] = await start_referrals(s, 1, "FT-PII")
    state = await s.until(
        rid, lambda st: bool(st.assignments) and st.assignments[0].due_at is not None
    )
    handle = s.client.get_workflow_handle(rid)
    who = state.assignments[0].partner
    for update, vas_sold in (("accept", None), ("contacted", None), ("complete", True)):
        await handle.execute_update(
            update,
            PartnerAction(partner=who, notes="ok", vas_sold=vas_sold),
            result_type=ActionResult,
        )
    await s.until(rid, lambda st: st.status == "completed")
    # a refused action too: its failure text must not leak either
    with contextlib.suppress(Exception):
        await handle.execute_update(
            "decline", PartnerAction(partner="nobody", reason="other"), result_type=ActionResult
        )

    raw = await Client.connect(s.settings.temporal_address)  # no codec: what the server stores
    history = readable_history((await raw.get_workflow_handle(rid).fetch_history()).to_json())
    described = await raw.get_workflow_handle(rid).describe()
    attributes = repr(described.typed_search_attributes) + repr(described.raw_description)
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
    assert "fasttrack_referral_assignments" in metrics
    for proc in s.workers:
        proc.terminate()
        proc.wait(timeout=20)
    logs = "".join(p.read_text(errors="replace") for p in s.tmp.glob("worker-*.log"))
    for secret in PII:
        assert secret not in rid
        assert secret not in history, f"{secret!r} in the raw history"
        assert secret not in attributes, f"{secret!r} in search attributes"
        assert secret not in logs, f"{secret!r} in worker logs"
        assert secret not in metrics, f"{secret!r} in metrics"
    # and with the codec, the same history is readable
    decoded = await handle.fetch_history()
    assert decoded.events


async def test_a_partner_action_is_answered_503_when_no_worker_takes_it(
    s: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Temporal keeps an update waiting until a worker accepts it, polling again after each
    RPC: with no worker the portal answers "unavailable" after its own limit (the same update
    id, sent again later, tells whether it was applied)."""
    monkeypatch.setattr(gateway, "ANSWER_TIMEOUT", timedelta(seconds=2), raising=False)
    rid = "FT-NOWORKER"
    await s.client.start_workflow(
        names.WORKFLOW_REFERRAL,
        ReferralInput(referral(rid)),
        id=rid,
        task_queue=s.settings.task_queue,  # no worker was started
    )
    now = datetime.now(UTC)
    row = ReferralRow(
        rid, rid, None, "benefit", "pending", "1001", "DE", 2400, ["teams"], None, False, False,
        now, now, None, {}, {},
    )  # fmt: skip
    state = ReferralState(
        referral_id=rid, workflow_id=rid, parent_id=None, type="benefit", workloads=["teams"],
        status=Status.PENDING, customer_country="DE", seats=2400, created_at=now,
    )  # fmt: skip
    portal = SimpleNamespace(client=s.client)  # run_update needs only the Temporal client
    call = gateway.run_update(
        portal,  # type: ignore[arg-type]
        gateway.Loaded(row, state, "snapshot"),
        "accept",
        PartnerAction("1001"),
        "upd-1",
    )
    started = time.monotonic()
    with pytest.raises(ApiError) as err:
        await asyncio.wait_for(call, 60)
    assert err.value.status_code == 503
    assert time.monotonic() - started < 15  # its own limit, not however long Temporal polls
