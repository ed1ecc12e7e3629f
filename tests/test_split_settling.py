"""A split referral closes once its parts have ended, whatever order the parts' `part_changed`
signals reach it in, and even when a part's last signal never does (issue 31). The worker runs
with an interceptor that reorders or drops the parts' signals to the parent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest_asyncio
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import (
    Interceptor,
    SignalExternalWorkflowInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from db.engine import open_database
from domain import names
from domain import transitions as t
from domain.models import PartRef, ReferralInput, ReferralState, ReferralSummary, Status
from runtime.smtp_sink import MailSink
from settings import Settings
from tests.factories import partner, referral
from tests.harness import Harness, harness_settings
from worker import build_worker

Rule = Callable[[PartRef], str]  # what to do with a part's signal: "send", "hold" or "drop"


class _PartSignals(Interceptor):
    """Holds back or drops the `part_changed` signals a part sends to its parent."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        rule = self.rule

        class Inbound(WorkflowInboundInterceptor):
            def init(self, outbound: WorkflowOutboundInterceptor) -> None:
                super().init(_Outbound(outbound, rule))

        return Inbound


class _Outbound(WorkflowOutboundInterceptor):
    """A held signal goes out after the part's next one has been delivered."""

    def __init__(self, next: WorkflowOutboundInterceptor, rule: Rule) -> None:
        super().__init__(next)
        self._rule = rule
        self._sent = 0

    async def signal_external_workflow(self, input: SignalExternalWorkflowInput) -> None:
        if input.signal != names.SIGNAL_PART_CHANGED:
            return await super().signal_external_workflow(input)
        what = self._rule(input.args[0])
        if what == "drop":
            return None
        if what == "hold":
            sent = self._sent
            await workflow.wait_condition(lambda: self._sent > sent)
        await super().signal_external_workflow(input)
        self._sent += 1
        return None


def _hold_active(part: PartRef) -> str:
    return "hold" if part.status == Status.ACTIVE else "send"


def _drop_closed(part: PartRef) -> str:
    return "drop" if part.status in Status.CLOSED else "send"


@pytest_asyncio.fixture
async def harness_for(
    temporal_env: WorkflowEnvironment, mail_sink: MailSink, tmp_path: Path
) -> AsyncIterator[Callable[[Rule], Any]]:
    """Starts a real worker (SQLite) whose parts' signals to their parent follow a rule."""
    started: list[tuple[Harness, Any]] = []

    async def start(rule: Rule) -> Harness:
        url = f"sqlite+aiosqlite:///{tmp_path / 'fasttrack.db'}"
        settings = harness_settings(Settings(), url, mail_sink.port)
        engine, sessions = await open_database(url)
        worker = build_worker(
            temporal_env.client, settings, sessions, interceptors=[_PartSignals(rule)]
        )
        running = asyncio.create_task(worker.run())
        h = Harness(temporal_env, settings, sessions, mail_sink, worker, uuid.uuid4().hex[:6])
        started.append((h, (engine, running)))
        return h

    yield start
    for h, (engine, running) in started:
        await h.cleanup()
        await h.worker.shutdown()
        await running
        await engine.dispose()


async def _complete_both_parts(h: Harness, ref_id: str) -> Any:
    await h.partners(partner("5101", workloads=["teams"]), partner("5102", workloads=["intune"]))
    handle = await h.start(referral(ref_id, workloads=["teams", "intune"], active_usage={}))
    state = await h.until(handle, lambda s: s.status == Status.SPLIT and len(s.parts) == 2)
    for part in state.parts:
        part_handle = h.client.get_workflow_handle(part.workflow_id)
        who = await h.assigned(part_handle)
        await h.act(part_handle, "accept", who)
        await h.act(part_handle, "complete", who, vas_sold=False)
    return handle


async def test_a_parts_late_active_signal_does_not_reopen_it_and_the_parent_closes(
    harness_for: Callable[[Rule], Any],
) -> None:
    h = await harness_for(_hold_active)
    handle = await _complete_both_parts(h, "FT-T-SPLIT-ORDER")
    await h.until(handle, lambda s: s.status == Status.COMPLETED)
    summary = await handle.result()
    assert [p.status for p in summary.parts] == [Status.COMPLETED, Status.COMPLETED]


async def test_the_parent_learns_a_parts_end_from_its_result_when_no_signal_says_so(
    harness_for: Callable[[Rule], Any],
) -> None:
    h = await harness_for(_drop_closed)
    handle = await _complete_both_parts(h, "FT-T-SPLIT-LOST")
    await h.until(handle, lambda s: s.status == Status.COMPLETED)
    summary = await handle.result()
    assert {p.partner for p in summary.parts} == {"5101", "5102"}


# -- the rule itself, without Temporal ----------------------------------------------------


def _split_state(*statuses: str) -> ReferralState:
    state = t.new_state(ReferralInput(referral("FT-T-RULE")), "FT-T-RULE", _AT)
    state.status = Status.SPLIT
    state.parts = [PartRef(f"FT-T-RULE.part{i}", ["teams"], s) for i, s in enumerate(statuses)]
    return state


_AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_a_stale_part_report_is_ignored_and_a_newer_one_applies() -> None:
    state = _split_state("")
    part = "FT-T-RULE.part0"
    assert t.part_changed(state, PartRef(part, ["teams"], Status.PENDING, "1", seq=1), _AT)
    assert t.part_changed(state, PartRef(part, ["teams"], Status.ACTIVE, "1", seq=3), _AT)
    assert not t.part_changed(state, PartRef(part, ["teams"], Status.PENDING, "1", seq=2), _AT)
    assert state.parts[0].status == Status.ACTIVE


def test_a_closed_part_never_reopens_whatever_its_reports_say() -> None:
    state = _split_state("", Status.COMPLETED)
    late = PartRef("FT-T-RULE.part1", ["teams"], Status.ACTIVE, "1", seq=99)
    assert not t.part_changed(state, late, _AT)
    assert state.parts[1].status == Status.COMPLETED


def test_a_parts_result_settles_it_even_after_a_late_active_report() -> None:
    state = _split_state(Status.COMPLETED, Status.ACTIVE)
    result = ReferralSummary("FT-T-RULE", Status.COMPLETED, [], [], None, _AT, _AT)
    t.part_ended(state, "FT-T-RULE.part1", result, _AT)
    assert t.parts_settled(state)


def test_a_part_that_ended_without_a_result_counts_as_cancelled() -> None:
    state = _split_state(Status.COMPLETED, Status.PENDING)
    t.part_lost(state, "FT-T-RULE.part0", "terminated", _AT)  # closed already: kept
    t.part_lost(state, "FT-T-RULE.part1", "terminated", _AT)
    assert [p.status for p in state.parts] == [Status.COMPLETED, Status.CANCELLED]
    assert t.parts_settled(state)
    t.close_split(state, _AT)
    assert state.status == Status.COMPLETED
