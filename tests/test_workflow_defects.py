"""Regression tests for lifecycle defects: each failed on the code before its fix."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from db.models import Partner
from domain import names
from domain.models import PartnerAction, ReferralInput, ReferralSummary
from domain.policy import ANSWER_CAPACITY_AGAIN
from tests.factories import partner, referral
from tests.harness import Harness
from worker import build_worker


async def test_split_parts_inherit_the_partners_the_referral_excluded(h: Harness) -> None:
    await h.partners(
        partner("1001", workloads=["teams", "sharepoint"]),
        partner("2001", workloads=["teams"]),
        partner("2003", workloads=["sharepoint"]),
    )
    handle = await h.start(referral("FT-D-INHERIT"))
    assert await h.assigned(handle) == "1001"
    await h.act(handle, "decline", "1001", reason="customer_unresponsive")
    state = await h.until(handle, lambda s: len(s.parts) == 2)
    teams = h.client.get_workflow_handle(
        next(p.workflow_id for p in state.parts if p.workloads == ["teams"])
    )
    assert await h.assigned(teams) == "2001"
    await h.act(teams, "decline", "2001", reason="customer_unresponsive")
    part = await h.until(teams, lambda s: s.status == "escalated" or len(s.assignments) == 2)
    assert [a.partner for a in part.assignments] == ["2001"]  # never 1001 again
    assert part.status == "escalated"


async def test_an_escalated_part_keeps_the_parent_open_until_retried_and_completed(
    h: Harness,
) -> None:
    await h.partners(partner("3001", workloads=["teams"]), partner("3002", workloads=["intune"]))
    handle = await h.start(referral("FT-D-PARTESC", workloads=["teams", "intune"], active_usage={}))
    state = await h.until(handle, lambda s: len(s.parts) == 2)
    ids = {p.workloads[0]: p.workflow_id for p in state.parts}
    teams = h.client.get_workflow_handle(ids["teams"])
    intune = h.client.get_workflow_handle(ids["intune"])
    await h.assigned(intune)
    await h.act(intune, "decline", "3002", reason="customer_unresponsive")
    await h.until(intune, lambda s: s.status == "escalated")
    await h.act(teams, "accept", await h.assigned(teams))
    await h.act(teams, "complete", "3001", vas_sold=False)
    parent = await h.until(handle, lambda s: any(p.status == "completed" for p in s.parts))
    assert parent.status == "split"
    assert "escalated" in parent.waiting_for

    await h.partners(partner("3003", workloads=["intune"]))
    await h.operate(intune, "retry", "intune partner added")
    assert await h.assigned(intune, seq=2) == "3003"
    await h.act(intune, "accept", "3003")
    await h.act(intune, "complete", "3003", vas_sold=True, vas_value=100.0)
    summary = await handle.result()
    assert summary.status == "completed"
    assert [p.status for p in summary.parts] == ["completed", "completed"]


async def test_two_capacity_declines_at_the_same_moment_are_granted_once(h: Harness) -> None:
    await h.partners(partner("1001"))
    handles = [await h.start(referral(f"FT-D-CAP{n}")) for n in (1, 2)]
    for handle in handles:
        assert await h.assigned(handle) == "1001"
    results = await asyncio.gather(
        *(h.act(handle, "decline", "1001", reason="partner_at_capacity") for handle in handles),
        return_exceptions=True,
    )
    granted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, WorkflowUpdateFailedError)]
    assert len(granted) == 1 and len(refused) == 1, results
    cause = refused[0].cause
    assert isinstance(cause, ApplicationError) and cause.message == ANSWER_CAPACITY_AGAIN


async def test_cancelling_during_the_match_gives_the_reserved_partner_back(h: Harness) -> None:
    await h.partners(partner("1001"))
    blocker = create_async_engine(h.settings.database_url)
    async with blocker.connect() as conn:
        trans = await conn.begin()
        await conn.execute(text("UPDATE partners SET name = name"))  # holds the write lock
        handle = await h.start(referral("FT-D-CANCELMATCH"))
        await h.until(handle, lambda s: s.waiting_for.startswith("matching"))
        await h.operate(handle, "cancel", "customer withdrew")
        await trans.rollback()
    await blocker.dispose()
    state = await h.until(handle, lambda s: bool(s.assignments), timeout=30)
    assert state.status == "cancelled"
    assert [a.outcome for a in state.assignments] == ["withdrawn"]

    async def load() -> int | None:
        async with h.sessions() as session:
            return await session.scalar(
                select(Partner.open_assignments).where(Partner.mpn_id == "1001")
            )

    for _ in range(100):
        if await load() == 0:
            break
        await asyncio.sleep(0.1)
    assert await load() == 0


async def test_a_decline_after_accept_keeps_the_accept_time(h: Harness) -> None:
    await h.partners(partner("1001"), partner("1002"))
    handle = await h.start(referral("FT-D-LATE"))
    who = await h.assigned(handle)
    await h.act(handle, "accept", who)
    accepted = (await h.state(handle)).assignments[0].accepted_at
    assert accepted is not None
    await h.act(handle, "decline", who, reason="legal_or_political")
    state = await h.until(handle, lambda s: len(s.assignments) == 2)
    first = state.assignments[0]
    assert first.outcome == "declined"
    assert first.accepted_at == accepted
    assert first.decided_at is not None and first.decided_at >= accepted


async def test_an_accept_and_a_completion_handled_together_still_reach_the_account_team(
    h: Harness,
) -> None:
    """Both arrive while no worker runs (a restart; a partner's script): the workflow handles
    them in one activation. The account team is told of the accept and of the completion
    (neither email was sent)."""
    await h.partners(partner("1001"))
    own = replace(h.settings, task_queue=f"{h.settings.task_queue}-together")
    r = referral(f"FT-D-TOGETHER-{h.suffix}")
    async with build_worker(h.client, own, h.sessions, max_cached_workflows=0):
        handle = await h.client.start_workflow(
            names.WORKFLOW_REFERRAL,
            ReferralInput(r),
            id=r.referral_id,
            task_queue=own.task_queue,
            result_type=ReferralSummary,
        )
        await h.until(handle, lambda s: s.current is not None and s.current.due_at is not None)
    for action in (
        PartnerAction("1001", "accept"),
        PartnerAction("1001", "complete", vas_sold=True, vas_value=5.0, notes="done"),
    ):
        await handle.signal(names.SIGNAL_PARTNER_ACTION, action)
    async with build_worker(h.client, own, h.sessions, max_cached_workflows=0):
        assert (await handle.result()).status == "completed"
    subjects = [str(m["Subject"]) for m in h.mails(r.referral_id)]
    assert any("accepted by" in s for s in subjects), subjects
    assert any("completed by" in s for s in subjects), subjects


async def test_a_part_nobody_covers_alone_any_more_splits_into_parts_of_its_own(
    h: Harness,
) -> None:
    """The partner of a two-workload part declines and no other partner covers both: the part
    splits (it escalated, and retrying escalated again, while a partner per workload waited),
    and the referral closes once every part, nested ones too, has."""
    await h.partners(
        partner("5001", workloads=["teams", "sharepoint"]),
        partner("5002", workloads=["teams"]),
        partner("5003", workloads=["sharepoint"]),
        partner("5004", workloads=["intune"]),
    )
    handle = await h.start(
        referral("FT-D-RESPLIT", workloads=["teams", "sharepoint", "intune"], active_usage={})
    )
    state = await h.until(handle, lambda s: len(s.parts) == 2)
    by_size = sorted(state.parts, key=lambda p: len(p.workloads))
    one, two = (h.client.get_workflow_handle(p.workflow_id) for p in by_size)
    await h.act(two, "decline", await h.assigned(two), reason="customer_unresponsive")
    part = await h.until(two, lambda s: len(s.parts) == 2)
    assert part.status == "split" and {p.workflow_id for p in part.parts} == {
        f"{two.id}.part1",
        f"{two.id}.part2",
    }
    for scope in (*(h.client.get_workflow_handle(p.workflow_id) for p in part.parts), one):
        who = await h.assigned(scope)
        await h.act(scope, "accept", who)
        await h.act(scope, "complete", who, vas_sold=False)
    assert (await handle.result()).status == "completed"
