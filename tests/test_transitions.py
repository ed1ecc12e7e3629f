"""`domain.transitions`, the only code that changes a referral's state: without Temporal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain import transitions as t
from domain.models import (
    MatchExplanation,
    PartnerContact,
    PartRef,
    ReferralInput,
    ReferralState,
    Status,
)
from tests.factories import referral

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def new_state() -> ReferralState:
    return t.new_state(ReferralInput(referral("FT-U-1")), "FT-U-1", NOW)


def contact(mpn_id: str) -> PartnerContact:
    return PartnerContact(
        mpn_id=mpn_id,
        name=f"Partner {mpn_id}",
        referral_contact=f"referrals-{mpn_id}@partner.example",
        country="DE",
        timezone="Europe/Berlin",
    )


def test_a_split_marks_the_referral_split_and_records_the_plan_and_its_parts() -> None:
    s = new_state()
    t.split(s, [["teams"], ["sharepoint"]], NOW)
    t.add_part(s, PartRef(workflow_id="FT-U-1.part1", workloads=["teams"], status=""))
    assert s.status == Status.SPLIT
    assert [p.workflow_id for p in s.parts] == ["FT-U-1.part1"]
    assert s.history[-1].action == "split"
    assert s.history[-1].detail.endswith("teams; sharepoint")


def test_a_delayed_notification_stops_the_answer_clock_and_says_why() -> None:
    s = new_state()
    a = t.assign(s, contact("1001"), MatchExplanation(), NOW)
    t.notified(a, NOW, NOW + timedelta(days=2))
    t.notification_delayed(s, a, NOW, "451 try again later")
    assert a.notified_at is None and a.due_at is None
    assert (s.history[-1].action, s.history[-1].detail) == (
        "notification_delayed",
        "451 try again later",
    )


def test_a_refused_action_is_recorded_and_marked_refused() -> None:
    s = new_state()
    t.log(s, NOW, "partner:1001", "decline", "not assigned", refused=True)
    t.waiting(s, "matching the referral to a partner")
    assert s.history[-1].refused
    assert s.waiting_for == "matching the referral to a partner"
