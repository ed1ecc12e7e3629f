"""Handlers that await activities, against the referral's end: a capacity decline whose grant
is still being claimed when the partner completes the referral is answered before the
workflow returns (time-skipping server, real activities except the held grant)."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.directory import DirectoryActivities
from domain import names
from domain.models import ActionResult, CapacityGrant, PartnerAction, ReferralInput, ReferralSummary
from tests.factories import partner, referral
from tests.harness import Harness
from worker import WORKFLOW_RUNNER, build_activities
from workflows.referral import ReferralWorkflow


class HeldGrant:
    """The directory's capacity grant, held until the test lets the claim through."""

    def __init__(self, directory: DirectoryActivities) -> None:
        self._directory = directory
        self.calls: list[CapacityGrant] = []
        self.claiming = asyncio.Event()
        self.let_through = asyncio.Event()

    @activity.defn(name="grant_capacity_decline")
    async def grant_capacity_decline(self, grant: CapacityGrant) -> bool:
        self.calls.append(grant)
        if not grant.release:
            self.claiming.set()
            await self.let_through.wait()
        return await self._directory.grant_capacity_decline(grant)


async def test_a_decline_in_flight_when_the_referral_completes_is_answered_before_it_ends(
    h: Harness,
) -> None:
    await h.partners(partner("1001"), partner("1002"))
    held = HeldGrant(DirectoryActivities(h.sessions))
    activities = [
        a
        for a in build_activities(h.settings, h.sessions)
        if getattr(a, "__name__", "") != "grant_capacity_decline"
    ]
    queue = f"held-{uuid.uuid4().hex[:8]}"
    async with Worker(
        h.client,
        task_queue=queue,
        workflows=[ReferralWorkflow],
        activities=[*activities, held.grant_capacity_decline],
        activity_executor=ThreadPoolExecutor(max_workers=4),
        workflow_runner=WORKFLOW_RUNNER,
    ):
        rid = f"FT-T-INFLIGHT-{h.suffix}"
        h.started.append(rid)
        handle = await h.client.start_workflow(
            names.WORKFLOW_REFERRAL,
            ReferralInput(referral(rid)),
            id=rid,
            task_queue=queue,
            result_type=ReferralSummary,
        )
        who = await h.assigned(handle)
        await h.act(handle, "accept", who)
        decline = await handle.start_update(
            "decline",
            PartnerAction(partner=who, reason="partner_at_capacity"),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            result_type=ActionResult,
        )
        await asyncio.wait_for(held.claiming.wait(), 15)
        await h.act(handle, "complete", who, vas_sold=False)
        held.let_through.set()
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await decline.result()
        summary = await handle.result()
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "closed"
    assert summary.status == "completed"
    assert [a.outcome for a in summary.assignments] == ["completed"]
    assert [g.release for g in held.calls] == [False, True]  # the grant was given back
