"""Scheduled operations jobs.

Schedules need the real dev server (the time-skipping test server does not implement
CreateSchedule); the jobs' workflows themselves also run on the time-skipping server (`h`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import (
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleHandle,
    ScheduleState,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from db.directory import PartnerDirectory
from db.outbox import EmailOutbox
from domain.pauses import local_today
from domain.report import WEEK, last_week, week_start
from mail import formats
from runtime.schedules import (
    JOBS,
    PAUSE_SWEEP_ID,
    WEEKLY_REPORT_ID,
    build_schedule,
    ensure_schedules,
)
from runtime.smtp_sink import MailSink
from tests.factories import partner, referral
from tests.harness import Harness
from tests.test_search_attributes import DevWorker, dev_server, dev_worker
from workflows.scheduled import (
    WORKFLOW_PAUSE_SWEEP,
    WORKFLOW_WEEKLY_REPORT,
    PauseSweepResult,
    WeeklyReportResult,
)


def today() -> date:
    return datetime.now(UTC).date()


def parts(message: EmailMessage) -> dict[str, str]:
    return {
        part.get_content_type(): str(part.get_content())
        for part in message.walk()
        if not part.is_multipart()
    }


# ----------------------------------------------------------- the jobs' workflows (test server)


async def test_pause_sweep_resumes_only_ended_pauses(h: Harness) -> None:
    # The sweep ends the pauses over by the wall clock, in the partner's own zone.
    day = local_today("Europe/Berlin", datetime.now(UTC))
    await h.partners(
        partner("8001", paused_until=day - timedelta(days=1)),
        partner("8002", paused_until=day),
        partner("8003"),
    )
    result = await h.client.execute_workflow(
        WORKFLOW_PAUSE_SWEEP,
        id=f"pause-sweep-test-{uuid.uuid4().hex[:8]}",
        task_queue=h.settings.task_queue,
        result_type=PauseSweepResult,
    )
    assert result.resumed == ["8001"]
    directory = PartnerDirectory(h.sessions)
    assert (await directory.get("8001")).profile.paused_until is None  # type: ignore[union-attr]
    assert (await directory.get("8002")).profile.paused_until == day  # type: ignore[union-attr]


@pytest.mark.own_test_server  # it skips a week
async def test_weekly_report_is_emailed_once_per_run(h: Harness) -> None:
    await h.partners(partner("8101", name="Northwind Cloud"))
    handle = await h.start(referral("FT-WR-0001"))
    who = await h.assigned(handle)
    await h.act(handle, "decline", who, reason="partner_at_capacity")
    await h.until(handle, lambda s: s.status == "escalated")
    # The report covers the last whole week before its run: run it in the week after.
    created = (await h.state(handle)).created_at
    since, until = last_week(week_start(created) + WEEK + timedelta(hours=7))
    await h.env.sleep(until + timedelta(hours=7) - await h.env.get_current_time())

    async def run() -> WeeklyReportResult:
        return await h.client.execute_workflow(
            WORKFLOW_WEEKLY_REPORT,
            id=run_id,
            task_queue=h.settings.task_queue,
            result_type=WeeklyReportResult,
        )

    run_id = f"fasttrack-weekly-sla-report-{uuid.uuid4().hex[:8]}-2026-03-02T07:00:00Z"
    first = await run()
    assert first.status == "sent" and first.recipients == [h.settings.ops_email]
    assert first.referrals_total == 1
    mail = await h.wait_mail(lambda m: "weekly SLA report" in str(m["Subject"]))
    assert str(mail["To"]) == h.settings.ops_email
    assert str(mail["Message-ID"]) == first.message_id
    body = parts(mail)
    assert set(body) == {"text/plain", "text/html"}
    for text in body.values():
        assert "Northwind Cloud" in text
        assert "Partner at capacity" in text or "partner at capacity" in text.lower()
        assert "Fabrikam" not in text  # figures only, no customer data
    assert "Assignments: 1\r\n" in body["text/plain"]
    period = f"{formats.day(since.date())} – {formats.day((until - timedelta(days=1)).date())}"
    assert period in str(mail["Subject"])  # Monday to Sunday

    again = await run()  # same scheduled run (same workflow id): the outbox says already sent
    assert again.status == "duplicate" and again.message_id == first.message_id
    await asyncio.sleep(0.3)
    assert len(h.mails("weekly SLA report")) == 1
    row = await EmailOutbox(h.sessions).get(first.message_id)
    assert row is not None and row.status == "sent" and row.kind == "weekly_report"


# --------------------------------------------------------------- the schedules (dev server)


@pytest_asyncio.fixture(scope="module")
async def sched_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkflowEnvironment]:
    async with dev_server(tmp_path_factory.mktemp("temporal-schedules")) as env:
        yield env


@pytest_asyncio.fixture
async def w(
    sched_env: WorkflowEnvironment, mail_sink: MailSink, tmp_path: Path
) -> AsyncIterator[DevWorker]:
    mail_sink.clear()
    async with dev_worker(sched_env, mail_sink, tmp_path) as worker:
        yield worker


async def listed_schedule_ids(w: DevWorker, expected: int) -> list[str]:
    deadline = time.monotonic() + 10
    while True:
        ids = [s.id async for s in await w.client.list_schedules()]
        if len(ids) >= expected or time.monotonic() > deadline:
            return ids
        await asyncio.sleep(0.2)


async def latest_run(handle: ScheduleHandle, previous: int) -> str:
    """Workflow id of the action the schedule took after its first `previous` ones."""
    deadline = time.monotonic() + 15
    while True:
        actions = (await handle.describe()).info.recent_actions
        if len(actions) > previous:
            action = actions[-1].action
            assert isinstance(action, ScheduleActionExecutionStartWorkflow)
            return action.workflow_id
        if time.monotonic() > deadline:
            raise AssertionError("the schedule did not start a workflow")
        await asyncio.sleep(0.2)


@pytest.mark.integration
async def test_ensure_schedules_is_idempotent(w: DevWorker) -> None:
    first = await ensure_schedules(w.client, w.settings)
    second = await ensure_schedules(w.client, w.settings)
    assert first == second == [WEEKLY_REPORT_ID, PAUSE_SWEEP_ID]
    ids = await listed_schedule_ids(w, len(JOBS))
    assert sorted(ids) == sorted(first)  # exactly one schedule each

    weekly = await w.client.get_schedule_handle(WEEKLY_REPORT_ID).describe()
    action = weekly.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == WORKFLOW_WEEKLY_REPORT
    assert action.task_queue == w.settings.task_queue
    cal = weekly.schedule.spec.calendars[0]
    assert [r.start for r in cal.day_of_week] == [1]
    assert [r.start for r in cal.hour] == [7] and [r.start for r in cal.minute] == [0]
    nxt = weekly.info.next_action_times[0]
    assert nxt.weekday() == 0 and (nxt.hour, nxt.minute) == (7, 0)

    sweep = await w.client.get_schedule_handle(PAUSE_SWEEP_ID).describe()
    cal = sweep.schedule.spec.calendars[0]
    assert [r.start for r in cal.hour] == [0] and [r.start for r in cal.minute] == [15]
    nxt = sweep.info.next_action_times[0]
    assert (nxt.hour, nxt.minute) == (0, 15)


@pytest.mark.integration
async def test_ensure_keeps_an_operator_pause(w: DevWorker) -> None:
    # The schedule as an operator left it: paused, with their note. It is created so rather
    # than paused afterwards, because a pause is a signal to the schedule's workflow and a
    # busy server can take long to show it.
    job = next(j for j in JOBS if j.schedule_id == PAUSE_SWEEP_ID)
    handle = w.client.get_schedule_handle(PAUSE_SWEEP_ID)
    with contextlib.suppress(RPCError):
        await handle.delete()
    paused = build_schedule(job, w.settings)
    paused.state = ScheduleState(paused=True, note="directory migration")
    await w.client.create_schedule(PAUSE_SWEEP_ID, paused)
    try:
        await ensure_schedules(w.client, w.settings)
        state = (await handle.describe()).schedule.state
        assert state.paused and state.note == "directory migration"
    finally:
        await handle.delete()  # the next `ensure_schedules` creates it as the worker would


@pytest.mark.integration
async def test_triggered_pause_sweep_resumes_partner(w: DevWorker) -> None:
    directory = PartnerDirectory(w.sessions)
    now = datetime.now(UTC)
    await directory.upsert(
        [
            partner("8201", paused_until=today() - timedelta(days=1)),
            partner("8202", paused_until=today() + timedelta(days=3)),
        ],
        now,
    )
    await ensure_schedules(w.client, w.settings)
    handle = w.client.get_schedule_handle(PAUSE_SWEEP_ID)
    before = len((await handle.describe()).info.recent_actions)
    await handle.trigger()
    run_id = await latest_run(handle, before)
    result = await w.client.get_workflow_handle(run_id, result_type=PauseSweepResult).result()
    assert result.resumed == ["8201"]
    assert (await directory.get("8201")).profile.paused_until is None  # type: ignore[union-attr]
    assert (await directory.get("8202")).profile.paused_until is not None  # type: ignore[union-attr]


@pytest.mark.integration
async def test_triggered_weekly_report_reaches_ops(w: DevWorker, mail_sink: MailSink) -> None:
    await ensure_schedules(w.client, w.settings)
    handle = w.client.get_schedule_handle(WEEKLY_REPORT_ID)
    before = len((await handle.describe()).info.recent_actions)
    await handle.trigger()
    run_id = await latest_run(handle, before)
    result = await w.client.get_workflow_handle(run_id, result_type=WeeklyReportResult).result()
    assert result.status == "sent"
    assert run_id.startswith(WEEKLY_REPORT_ID)
    await mail_sink.wait_for(1)
    mail = next(m for m in mail_sink.messages if "weekly SLA report" in str(m["Subject"]))
    assert str(mail["To"]) == w.settings.ops_email
    assert set(parts(mail)) == {"text/plain", "text/html"}
