"""Email delivery inside the running workflow: retries, permanent failures, exactly once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from temporalio import activity
from temporalio.worker import Worker

from activities.email import EmailActivities
from activities.publish import PublishActivities
from db.outbox import EmailOutbox
from db.readmodel import ReferralReadModel
from domain import names
from domain.models import EmailRequest, EmailResult, Publication, PublishResult, ReferralInput
from runtime.smtp_sink import MailSink
from tests.factories import partner, referral
from tests.harness import Harness
from worker import build_activities
from workflows.referral import ReferralWorkflow


def message_ids(h: Harness) -> Counter[str]:
    return Counter(str(m["Message-ID"]) for m in h.sink.messages)


async def test_temporary_failure_is_retried_then_delivered_once(h: Harness) -> None:
    await h.partners(partner("1001"))
    h.sink.fail_next(2, MailSink.TEMPORARY, ("RCPT",))
    handle = await h.start(referral("FT-T-451"))
    await h.assigned(handle)
    await h.wait_mail(lambda m: "referrals-1001" in str(m["To"]), timeout=40)
    await h.wait_mail(lambda m: "ae@microsoft.example" in str(m["To"]), timeout=40)
    assert all(n == 1 for n in message_ids(h).values()), message_ids(h)
    state = await h.state(handle)
    assert state.status == "pending"


async def test_permanent_failure_is_recorded_and_reported_to_operations(h: Harness) -> None:
    await h.partners(partner("1001"))
    h.sink.fail_next(1, MailSink.PERMANENT, ("RCPT",))
    handle = await h.start(referral("FT-T-550"))
    await h.assigned(handle)
    report = await h.wait_mail(lambda m: "ops@" in str(m["To"]))
    assert handle.id in str(report["Subject"])
    state = await h.until(handle, lambda s: any(e.action == "email_failed" for e in s.history))
    assert state.status == "pending"  # the referral goes on; its SLA still runs
    assert state.assignments[0].due_at is not None
    rows = await EmailOutbox(h.sessions).list_for(handle.id)
    assert [r.status for r in rows].count("failed") == 1


@pytest.mark.parametrize("crashing", [names.ACTIVITY_PUBLISH, names.ACTIVITY_EMAIL])
async def test_crash_after_send_before_result_recorded_sends_no_duplicate(
    h: Harness, crashing: str
) -> None:
    """The worker dies after the SMTP server took the message but before Temporal recorded
    the activity's result: Temporal retries it, the outbox answers "already sent". Both
    sending activities: `publish_changes` (the normal path) and `send_email` (the path of an
    email that met a temporary failure first)."""
    await h.partners(partner("1001"))
    real = EmailActivities(h.settings, EmailOutbox(h.sessions))
    publish = PublishActivities(h.sessions, ReferralReadModel(h.sessions), real)

    @activity.defn(name=names.ACTIVITY_EMAIL)
    async def send_then_crash(request: EmailRequest) -> EmailResult:
        result = await real.send_email(request)
        if activity.info().attempt == 1:
            raise RuntimeError("worker lost before the result was recorded")
        return result

    @activity.defn(name=names.ACTIVITY_PUBLISH)
    async def publish_then_crash(publication: Publication) -> PublishResult:
        result = await publish.publish_changes(publication)
        if activity.info().attempt == 1:
            raise RuntimeError("worker lost before the result was recorded")
        return result

    crash: Any = publish_then_crash
    if crashing == names.ACTIVITY_EMAIL:
        crash = send_then_crash
        h.sink.fail_next(2, MailSink.TEMPORARY, ("RCPT",))  # both go on in send_email
    others = [a for a in build_activities(h.settings, h.sessions) if activity_name(a) != crashing]
    queue = h.settings.task_queue + "-crash"
    async with Worker(
        h.client,
        task_queue=queue,
        workflows=[ReferralWorkflow],
        activities=[*others, crash],
    ):
        rid = f"FT-T-CRASH-{h.suffix}"
        handle = await h.client.start_workflow(
            names.WORKFLOW_REFERRAL,
            ReferralInput(replace(referral("FT-T-CRASH"), referral_id=rid)),
            id=rid,
            task_queue=queue,
        )
        h.started.append(rid)
        await h.assigned(handle)
        await h.wait_mail(lambda m: "referrals-1001" in str(m["To"]), timeout=40)
        await h.wait_mail(lambda m: "ae@microsoft.example" in str(m["To"]), timeout=40)
        counts = message_ids(h)
        assert counts and all(n == 1 for n in counts.values()), counts
        for _ in range(100):  # the retried attempt records "sent" right after delivering
            rows = await EmailOutbox(h.sessions).list_for(rid)
            if rows and all(r.status == "sent" for r in rows):
                break
            await asyncio.sleep(0.1)
        assert rows and all(r.status == "sent" for r in rows), rows


def kinds_sent(h: Harness, referral_id: str) -> Counter[str]:
    mine = [m for m in h.sink.messages if str(m["X-FastTrack-Referral"]) == referral_id]
    return Counter(str(m["X-FastTrack-Kind"]) for m in mine)


ENGAGEMENT_MAILS = {"notification": 1, "team_assigned": 1, "team_accepted": 1, "team_completed": 1}


async def test_happy_path_is_a_local_match_and_one_local_publish_per_change(h: Harness) -> None:
    """Match, then one publish (read model + that change's emails) per change: assigned (with
    the notification, which starts the SLA clock), accepted, completed; both run as local
    activities (no activity task on the server). Deadlines are computed in the workflow;
    every email goes out exactly once."""
    await h.partners(partner("1001"))
    handle = await h.start(referral("FT-T-SHAPE"))
    who = await h.assigned(handle)
    await h.wait_mail(lambda m: str(m["X-FastTrack-Kind"]) == "team_assigned")
    for _ in range(200):  # the started SLA clock is published before the partner answers
        row = await ReferralReadModel(h.sessions).get(handle.id)
        if row is not None and row.sla_due_at is not None:
            break
        await asyncio.sleep(0.05)
    await h.act(handle, "accept", who)
    await h.wait_mail(lambda m: str(m["X-FastTrack-Kind"]) == "team_accepted")
    await h.act(handle, "complete", who, vas_sold=False)
    await handle.result()
    history = await handle.fetch_history()
    scheduled = [
        e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled == []
    local = Counter(
        json.loads(e.marker_recorded_event_attributes.details["data"].payloads[0].data)[
            "activity_type"
        ]
        for e in history.events
        if e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    )
    assert local == {names.ACTIVITY_MATCH: 1, names.ACTIVITY_PUBLISH: 3}
    assert kinds_sent(h, handle.id) == ENGAGEMENT_MAILS
    state = await h.state(handle)
    assert (state.status, state.waiting_for) == ("completed", "")
    row = await ReferralReadModel(h.sessions).get(handle.id)
    assert row is not None and row.status == "completed"
    assert row.state["waiting_for"] == ""


async def test_accept_and_complete_before_the_assignment_is_published_still_mail_the_team(
    h: Harness,
) -> None:
    """The partner accepts and completes while the assignment's publish is still running
    (the portal can act as soon as the referral is assigned): every engagement email still
    goes out once."""
    await h.partners(partner("1001"))
    handle = await h.start(referral("FT-T-EARLY"))
    who = await h.assigned(handle)
    await h.act(handle, "accept", who)
    await h.act(handle, "complete", who, vas_sold=False)
    summary = await handle.result()
    assert summary.status == "completed"
    for _ in range(100):
        if kinds_sent(h, handle.id) == ENGAGEMENT_MAILS:
            break
        await asyncio.sleep(0.05)
    assert kinds_sent(h, handle.id) == ENGAGEMENT_MAILS


def activity_name(fn: Any) -> str:
    return str(fn.__temporal_activity_definition.name)
