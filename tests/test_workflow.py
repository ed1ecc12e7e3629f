"""The referral lifecycle on the time-skipping test server, with real activities."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from domain import names
from domain.locales import LOCALES
from domain.models import PartnerAction
from domain.policy import ANSWER_CAPACITY_AGAIN, ANSWER_FASTTRACK_CENTER, program_answer
from mail import formats, i18n
from tests.factories import partner, referral
from tests.harness import Harness


async def refusal(coro: object) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await coro  # type: ignore[misc]
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def skip_past_due(h: Harness, handle: object, seq: int = 1) -> None:
    state = await h.state(handle)  # type: ignore[arg-type]
    due = state.assignments[seq - 1].due_at
    assert due is not None
    now = await h.env.get_current_time()
    await h.env.sleep(due - now + timedelta(minutes=1))


async def test_accept_contact_complete_returns_summary(h: Harness) -> None:
    await h.partners(partner("1001"))
    handle = await h.start(referral("FT-T-ACCEPT"))
    who = await h.assigned(handle)
    assert who == "1001"
    note = await h.wait_mail(
        lambda m: "FT-T-ACCEPT" in str(m["Subject"]) and "referrals-1001" in str(m["To"])
    )
    assert "ae@microsoft.example" in str(note["Cc"])

    await h.act(handle, "accept", who)
    state = await h.state(handle)
    assert state.status == "active"
    await h.act(handle, "contacted", who)
    await h.act(handle, "kickoff", who)
    await h.act(handle, "cpor_claimed", who)
    await h.act(handle, "complete", who, vas_sold=True, vas_value=12000.0, notes="Migrated")
    summary = await handle.result()
    assert summary.status == "completed"
    assert [a.outcome for a in summary.assignments] == ["completed"]
    assert summary.completion and summary.completion.vas_value == 12000.0
    assert summary.time_to_accept_seconds is not None
    done = await h.wait_mail(
        lambda m: "FT-T-ACCEPT" in str(m["Subject"]) and "completed by" in str(m["Subject"])
    )
    with i18n.using(h.settings.program_locale):
        value = formats.money(12000, h.settings.program_currency)
    assert value in done.get_body(("plain",)).get_content()  # type: ignore[union-attr]


@pytest.mark.own_test_server
async def test_silence_past_deadline_expires_and_reassigns(h: Harness) -> None:
    await h.partners(partner("1001"), partner("1002"))
    handle = await h.start(referral("FT-T-EXPIRE"))
    first = await h.assigned(handle)
    await skip_past_due(h, handle)
    state = await h.until(
        handle, lambda s: len(s.assignments) == 2 and s.assignments[1].due_at is not None
    )
    assert state.assignments[0].outcome == "expired"
    assert state.assignments[1].partner != first
    assert state.status == "pending"
    await h.wait_mail(
        lambda m: (
            "referrals-" + first in str(m["To"])
            and "FT-T-EXPIRE" in str(m["Subject"])
            and m["Message-ID"].find(".1.expired") > 0
        )
    )


async def test_decline_reassigns_to_next_partner(h: Harness) -> None:
    await h.partners(partner("1001"), partner("1002"))
    handle = await h.start(referral("FT-T-DECLINE"))
    first = await h.assigned(handle)
    await h.act(handle, "decline", first, reason="customer_unresponsive")
    state = await h.until(handle, lambda s: len(s.assignments) == 2)
    assert state.assignments[0].outcome == "declined"
    assert state.assignments[0].reason == "customer_unresponsive"
    assert state.assignments[1].partner != first


async def test_forbidden_reason_refused_and_nothing_written(h: Harness) -> None:
    await h.partners(partner("1001"), partner("1002"))
    handle = await h.start(referral("FT-T-FORBID"))
    who = await h.assigned(handle)
    err = await refusal(h.act(handle, "decline", who, reason="customer_prefers_fasttrack_center"))
    assert err.type == "reason_refused"
    assert err.message == ANSWER_FASTTRACK_CENTER
    err = await refusal(h.act(handle, "decline", who, reason="account_team_declines_partner"))
    assert err.type == "reason_refused"
    err = await refusal(h.act(handle, "decline", who, reason="other"))
    assert err.type == "note_required"
    err = await refusal(h.act(handle, "accept", "9999"))
    assert err.type == "not_assigned"
    err = await refusal(h.act(handle, "complete", who, vas_sold=False))
    assert err.type == "invalid_state"
    # validators refused them all: no update reached the history
    events = [e async for e in handle.fetch_history_events()]
    update_events = [e for e in events if "UPDATE" in EventType.Name(e.event_type)]
    assert update_events == []
    state = await h.state(handle)
    assert state.status == "pending" and state.assignments[0].outcome == "pending"


async def test_partner_at_capacity_granted_once_then_refused(h: Harness) -> None:
    # 1001 is endorsed for everything, 1002 lacks copilot: the second referral can only go to 1001.
    workloads = ["teams", "sharepoint", "exchange"]
    await h.partners(partner("1001"), partner("1002", workloads=workloads))
    first = await h.start(referral("FT-T-CAP1"))
    assert await h.assigned(first) == "1001"
    await h.act(first, "decline", "1001", reason="partner_at_capacity")
    await h.until(first, lambda s: len(s.assignments) == 2 and s.assignments[1].due_at is not None)

    second = await h.start(referral("FT-T-CAP2", workloads=["copilot"], active_usage={}))
    assert await h.assigned(second) == "1001"
    err = await refusal(h.act(second, "decline", "1001", reason="partner_at_capacity"))
    assert err.type == "reason_refused"
    assert err.message == ANSWER_CAPACITY_AGAIN
    answer = program_answer(err.message)  # the partner reads it in the portal and an email
    assert answer is not None
    for tag in LOCALES:  # it points to the partner's own profile page, not an operator command
        with i18n.using(tag):
            assert "starter.py" not in str(answer), tag


async def test_decline_after_accept_reassigns(h: Harness) -> None:
    await h.partners(partner("1001"), partner("1002"))
    handle = await h.start(referral("FT-T-LATE"))
    first = await h.assigned(handle)
    await h.act(handle, "accept", first)
    await h.act(handle, "decline", first, reason="legal_or_political", note="sanctions review")
    state = await h.until(handle, lambda s: len(s.assignments) == 2)
    assert state.assignments[0].outcome == "declined"
    assert state.assignments[1].outcome == "pending"


async def test_nobody_eligible_escalates_then_retry_after_directory_fix(h: Harness) -> None:
    await h.partners(partner("1001", home_country="US", countries=[], timezone="America/New_York"))
    handle = await h.start(referral("FT-T-ESC"))
    state = await h.until(handle, lambda s: s.status == "escalated")
    assert "country" in state.escalation
    await h.wait_mail(lambda m: "ops@" in str(m["To"]) and "FT-T-ESC" in str(m["Subject"]))
    err = await refusal(h.operate(handle, "cancel", ""))
    assert err.type == "invalid_value"

    await h.partners(partner("1002"))
    await h.operate(handle, "retry", "DE partner added")
    assert await h.assigned(handle) == "1002"
    err = await refusal(h.operate(handle, "retry"))
    assert err.type == "invalid_state"


async def test_duplicate_create_gives_one_workflow(h: Harness) -> None:
    await h.partners(partner("1001"))
    await h.start(referral("FT-T-DUP"))
    with pytest.raises(WorkflowAlreadyStartedError):
        await h.start(referral("FT-T-DUP"))


async def test_refused_signal_is_recorded_not_applied(h: Harness) -> None:
    await h.partners(partner("1001"))
    handle = await h.start(referral("FT-T-SIG"))
    who = await h.assigned(handle)
    await handle.signal(
        names.SIGNAL_PARTNER_ACTION,
        PartnerAction(partner=who, action="decline", reason="account_team_declines_partner"),
    )
    state = await h.until(handle, lambda s: any(e.refused for e in s.history))
    assert state.assignments[0].outcome == "pending"
    await handle.signal(names.SIGNAL_PARTNER_ACTION, PartnerAction(partner=who, action="accept"))
    await h.until(handle, lambda s: s.status == "active")


async def test_cancel_withdraws_the_assignment(h: Harness) -> None:
    await h.partners(partner("1001"))
    handle = await h.start(referral("FT-T-CANCEL"))
    await h.assigned(handle)
    await h.operate(handle, "cancel", "customer withdrew the request")
    summary = await handle.result()
    assert summary.status == "cancelled"
    assert summary.assignments[0].outcome == "withdrawn"


async def test_split_parts_reassign_independently_and_parent_completes(h: Harness) -> None:
    await h.partners(
        partner("2001", workloads=["teams"]),
        partner("2002", workloads=["teams"]),
        partner("2003", workloads=["sharepoint"]),
    )
    handle = await h.start(referral("FT-T-SPLIT"))
    state = await h.until(handle, lambda s: s.status == "split" and len(s.parts) == 2)
    teams_part = next(p.workflow_id for p in state.parts if p.workloads == ["teams"])
    sp_part = next(p.workflow_id for p in state.parts if p.workloads == ["sharepoint"])
    teams_handle = h.client.get_workflow_handle(teams_part)
    sp_handle = h.client.get_workflow_handle(sp_part)
    first = await h.assigned(teams_handle)
    assert await h.assigned(sp_handle) == "2003"

    await h.act(teams_handle, "decline", first, reason="customer_working_with_other_partner")
    second = await h.assigned(teams_handle, seq=2)
    assert {first, second} == {"2001", "2002"}
    sp_state = await h.state(sp_handle)
    assert len(sp_state.assignments) == 1

    for part, who in ((teams_handle, second), (sp_handle, "2003")):
        await h.act(part, "accept", who)
        await h.act(part, "complete", who, vas_sold=False)
    summary = await handle.result()
    assert summary.status == "completed"
    assert {p.status for p in summary.parts} == {"completed"}


async def test_split_part_escalates_alone(h: Harness) -> None:
    await h.partners(partner("3001", workloads=["teams"]), partner("3002", workloads=["intune"]))
    handle = await h.start(
        referral("FT-T-SPLIT-ESC", workloads=["teams", "intune"], active_usage={})
    )
    state = await h.until(handle, lambda s: len(s.parts) == 2)
    intune = h.client.get_workflow_handle(
        next(p.workflow_id for p in state.parts if p.workloads == ["intune"])
    )
    teams = h.client.get_workflow_handle(
        next(p.workflow_id for p in state.parts if p.workloads == ["teams"])
    )
    await h.assigned(intune)
    await h.act(intune, "decline", "3002", reason="customer_unresponsive")
    await h.until(intune, lambda s: s.status == "escalated")
    teams_state = await h.state(teams)
    assert teams_state.status == "pending"
    parent = await h.until(handle, lambda s: any(p.status == "escalated" for p in s.parts))
    assert parent.status == "split"


@pytest.mark.own_test_server
async def test_contact_not_recorded_in_time_reminds_then_flags_overdue(h: Harness) -> None:
    await h.partners(partner("1001"), partner("1002"))
    handle = await h.start(referral("FT-T-CONTACT"))
    who = await h.assigned(handle)
    await h.act(handle, "accept", who)
    state = await h.until(handle, lambda s: s.milestones.contact_due_at is not None)
    due = state.milestones.contact_due_at
    assert due is not None
    await h.env.sleep(due - await h.env.get_current_time() + timedelta(minutes=1))
    state = await h.until(handle, lambda s: s.milestones.contact_overdue)
    assert state.status == "active"  # flagged for operations, not reassigned
    assert len(state.assignments) == 1
    assert "overdue" in state.waiting_for
    assert [e.detail for e in state.history if e.action == "reminded"] == [
        f"contact reminder sent to {who}"  # on the partner's timeline too
    ]
    await h.wait_mail(lambda m: ".1.contact_reminder@" in str(m["Message-ID"]))
    overdue = await h.wait_mail(lambda m: ".1.contact_overdue@" in str(m["Message-ID"]))
    assert "We have reminded them." in str(overdue.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    await h.act(handle, "contacted", who)
    await h.act(handle, "complete", who, vas_sold=False)
    summary = await handle.result()
    assert summary.status == "completed"


@pytest.mark.own_test_server
async def test_split_part_expires_and_is_reassigned_alone(h: Harness) -> None:
    await h.partners(
        partner("2001", workloads=["teams"]),
        partner("2002", workloads=["teams"]),
        partner("2003", workloads=["sharepoint"]),
    )
    handle = await h.start(referral("FT-T-SPLIT-EXP"))
    state = await h.until(handle, lambda s: len(s.parts) == 2)
    teams = h.client.get_workflow_handle(
        next(p.workflow_id for p in state.parts if p.workloads == ["teams"])
    )
    sharepoint = h.client.get_workflow_handle(
        next(p.workflow_id for p in state.parts if p.workloads == ["sharepoint"])
    )
    first = await h.assigned(teams)
    await h.assigned(sharepoint)
    await h.act(sharepoint, "accept", "2003")  # this part answers; the teams part stays silent
    await skip_past_due(h, teams)
    teams_state = await h.until(teams, lambda s: len(s.assignments) == 2)
    assert teams_state.assignments[0].outcome == "expired"
    assert teams_state.assignments[1].partner != first
    sp_state = await h.state(sharepoint)
    assert [a.outcome for a in sp_state.assignments] == ["accepted"]


async def test_each_refused_decline_signal_emails_its_own_answer(h: Harness) -> None:
    await h.partners(partner("1001"))
    handle = await h.start(referral("FT-T-SIGREF"))
    who = await h.assigned(handle)
    for reason in ("customer_prefers_fasttrack_center", "account_team_declines_partner"):
        await handle.signal(
            names.SIGNAL_PARTNER_ACTION,
            PartnerAction(partner=who, action="decline", reason=reason),
        )

    def refusals() -> list[str]:
        return [
            str(m["Message-ID"])
            for m in h.sink.messages
            if "decline_refused@" in str(m["Message-ID"])
        ]

    msg = await h.wait_mail(
        lambda m: len(refusals()) == 2 and "decline_refused@" in str(m["Message-ID"])
    )
    assert len(set(refusals())) == 2
    assert "referrals-1001" in str(msg["To"])


async def test_search_attributes_are_upserted_only_when_they_change(h: Harness) -> None:
    await h.partners(partner("1001"))
    handle = await h.start(referral("FT-T-UPSERTS"))
    who = await h.assigned(handle)
    await h.act(handle, "accept", who)
    await h.act(handle, "contacted", who)  # changes no search attribute: no upsert
    await h.act(handle, "complete", who, vas_sold=False)
    await handle.result()
    history = await handle.fetch_history()
    upserts = [
        sorted(
            e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        )
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
    ]
    assert len(upserts[0]) == 8  # the first record: every attribute that has a value
    assert all(upserts)  # nothing changed: no upsert
    flat = [key for keys in upserts for key in keys]
    # status: pending, active, completed; partner: set, unset; SLA due: set, unset
    assert flat.count("ReferralStatus") == 3
    assert flat.count("PartnerId") == 2
    assert flat.count("SlaDueAt") == 2


async def test_a_partners_cpor_claim_wins_it_the_customers_next_referral(h: Harness) -> None:
    await h.partners(partner("1001"), partner("1002"))
    first = await h.start(referral("FT-T-CLAIM1"))
    who = await h.assigned(first)
    other = "1002" if who == "1001" else "1001"
    for action in ("accept", "contacted", "kickoff", "cpor_claimed"):
        await h.act(first, action, who)
    await h.act(first, "complete", who, vas_sold=False)
    await first.result()
    # the next referral of the same customer would go to the partner assigned least recently
    second = await h.start(referral("FT-T-CLAIM2"))
    assert await h.assigned(second) == who != other
    state = await h.state(second)
    explanation = state.assignments[0].explanation
    assert explanation is not None and explanation.cpor == "chosen"
