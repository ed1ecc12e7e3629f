"""The report's answers to the guide's questions over a seeded history worked out by hand:
decline rates by partner and reason, the customer-contact SLA after accept, time to accept by
type and country (a decline after accepting keeps its accept time), CPOR claimants."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cli.report import render_text
from db.readmodel import ReferralReadModel
from db.reports import build_report
from domain.models import (
    Assignment,
    MatchExplanation,
    Milestones,
    Outcome,
    Reason,
    Requester,
    Status,
)
from mail.report_page import render_guide_html
from tests.dbfixtures import T0, Database, assignment, event, snapshot

H = timedelta(hours=1)
NOW = T0 + timedelta(days=10)


def _a(seq: int, partner: str, outcome: str, at_h: int, decided_h: int, **kw: Any) -> Assignment:
    return assignment(
        seq,
        partner,
        outcome,
        assigned_at=T0 + at_h * H,
        due_at=T0 + (at_h + 48) * H,
        decided_at=T0 + decided_h * H,
        **kw,
    )


def _contact(due_h: float, contacted_h: float | None = None) -> Milestones:
    contacted = T0 + contacted_h * H if contacted_h is not None else None
    return Milestones(contact_due_at=T0 + due_h * H, contacted_at=contacted)


async def _seed(database: Database) -> None:
    standard_us: dict[str, Any] = {"type": "standard", "customer_country": "US"}
    snaps = [
        # R1: 100 accepts after 2 h, declines after 50 h; 200 accepts 3 h after assignment
        snapshot(
            "R1",
            Status.ACTIVE,
            [
                _a(1, "100", Outcome.DECLINED, 0, 50, reason=Reason.OTHER, note="merger"),
                _a(2, "200", Outcome.ACCEPTED, 50, 53),
            ],
            [
                event(0, "assigned"),
                event(120, "accepted", "partner:100"),
                event(50 * 60, "declined", "partner:100"),
                event(50 * 60, "assigned"),
                event(53 * 60, "accepted", "partner:200"),
            ],
            milestones=_contact(100, 90),
        ),
        # R2: chosen by the CPOR claim rule, accepted after 10 h, contact late
        snapshot(
            "R2",
            Status.COMPLETED,
            [
                _a(
                    1,
                    "200",
                    Outcome.COMPLETED,
                    0,
                    10,
                    explanation=MatchExplanation(cpor="chosen", rank_keys={"rule": "cpor"}),
                )
            ],
            milestones=_contact(60, 70),
            **standard_us,
        ),
        # R3: accepted after 1 h, never contacted: overdue
        snapshot(
            "R3",
            Status.ACTIVE,
            [_a(1, "100", Outcome.ACCEPTED, 0, 1)],
            milestones=_contact(30),
            **standard_us,
        ),
        # R4: accepted after 4 h, contact still within the window
        snapshot(
            "R4",
            Status.ACTIVE,
            [_a(1, "300", Outcome.ACCEPTED, 0, 4)],
            milestones=_contact(10 * 24 + 1),
            customer_country="AT",
        ),
        # R5: expired, then declined late (customer unresponsive)
        snapshot(
            "R5",
            Status.PENDING,
            [
                _a(1, "300", Outcome.EXPIRED, 0, 48),
                _a(2, "100", Outcome.DECLINED, 48, 100, reason=Reason.CUSTOMER_UNRESPONSIVE),
            ],
        ),
    ]
    for snap in snaps:
        await ReferralReadModel(database.sessionmaker).sync(snap, NOW)


async def test_decline_rates_by_partner_and_by_reason(database: Database) -> None:
    await _seed(database)
    r = await build_report(database.sessionmaker, None, NOW)
    assert r.decline_rate_by_partner == {
        "100": {
            "decided": 3,
            "declined": 2,
            "decline_rate": 0.667,
            "by_reason": {"customer_unresponsive": 1, "other": 1},
        },
        "200": {"decided": 2, "declined": 0, "decline_rate": 0.0, "by_reason": {}},
        "300": {"decided": 2, "declined": 0, "decline_rate": 0.0, "by_reason": {}},
    }
    assert r.decline_rate_by_reason == {
        "customer_unresponsive": {"declines": 1, "decline_rate": 0.143, "share": 0.5},
        "other": {"declines": 1, "decline_rate": 0.143, "share": 0.5},
    }


async def test_customer_contact_sla_after_accept(database: Database) -> None:
    await _seed(database)
    r = await build_report(database.sessionmaker, None, NOW, business_days=2)
    assert r.contact_sla == {
        "business_days": 2,
        "accepted": 4,
        "in_time": 1,
        "late": 1,
        "overdue": 1,
        "waiting": 1,
        "compliance_pct": 33.3,
    }


async def test_time_to_accept_by_type_and_country_keeps_accepts_later_declined(
    database: Database,
) -> None:
    await _seed(database)
    r = await build_report(database.sessionmaker, None, NOW)
    assert r.time_to_accept_by_type == {
        "benefit": {"accepted": 3, "median_hours": 3.0, "p90_hours": 4.0},
        "standard": {"accepted": 2, "median_hours": 5.5, "p90_hours": 10.0},
    }
    assert r.time_to_accept_by_country == {
        "AT": {"accepted": 1, "median_hours": 4.0, "p90_hours": 4.0},
        "DE": {"accepted": 2, "median_hours": 2.5, "p90_hours": 3.0},
        "US": {"accepted": 2, "median_hours": 5.5, "p90_hours": 10.0},
    }
    assert (r.time_to_accept_median_hours, r.time_to_accept_p90_hours) == (3.0, 10.0)
    # R1's first answer was its accept after 2 h (in time), not the decline after 50 h
    assert r.answered_within_sla_pct == round(100 * 5 / 7, 1)


async def test_referrals_that_went_to_a_cpor_claimant_are_counted(database: Database) -> None:
    await _seed(database)
    r = await build_report(database.sessionmaker, None, NOW)
    assert r.cpor_claimant_referrals == 1
    later = await build_report(database.sessionmaker, T0 + H, NOW)
    assert later.cpor_claimant_referrals == 0


async def test_the_new_sections_render_as_text_and_html(database: Database) -> None:
    await _seed(database)
    r = await build_report(database.sessionmaker, None, NOW)
    text = render_text(r, {"100": "Contoso <Cloud>"})
    for needle in (
        "decline rate by partner:",
        "Contoso <Cloud> (100)",
        "customer contact within 2 business days of accept: 33.3%",
        "time to accept by country:",
        "went to a CPOR claimant:  1",
    ):
        assert needle in text
    html = render_guide_html(r, {"100": "Contoso <Cloud>"})
    assert "Contoso &lt;Cloud&gt; (100)" in html and "<td>33.3%</td>" in html
    assert "<td>Customer is unresponsive</td><td>1</td><td>14%</td><td>50%</td>" in html


async def test_the_share_of_microsoft_requests_whose_account_team_was_contacted_first(
    database: Database,
) -> None:
    """Judged: Microsoft-requested referrals with a kick-off or an account-team contact."""

    def requested(rid: str, microsoft: bool, team_h: int | None, kickoff_h: int | None) -> Any:
        milestones = Milestones(
            account_team_contacted_at=T0 + team_h * H if team_h is not None else None,
            kickoff_at=T0 + kickoff_h * H if kickoff_h is not None else None,
        )
        snap = snapshot(rid, Status.ACTIVE, [_a(1, "100", Outcome.ACCEPTED, 0, 1)])
        snap.state.milestones = milestones
        snap.referral.requested_by = Requester("AE", "ae@microsoft.example", microsoft)
        return snap

    for snap in [
        requested("M1", True, 5, 10),  # before the kick-off
        requested("M2", True, 12, 10),  # after it
        requested("M3", True, None, 10),  # kick-off without it
        requested("M4", True, 5, None),  # no kick-off yet: first
        requested("M5", True, None, None),  # neither yet: not judged
        requested("P1", False, None, 10),  # not from Microsoft: not counted
    ]:
        await ReferralReadModel(database.sessionmaker).sync(snap, NOW)
    r = await build_report(database.sessionmaker, None, NOW)
    assert r.account_team_first == {"judged": 4, "before_kickoff": 2, "share_pct": 50.0}
    text = render_text(r, {})
    assert "account team contacted before kick-off (Microsoft requests): 50" in text, text
    assert "(2 of 4)" in text
