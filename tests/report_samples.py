"""A weekly report with every section filled, for the translation tests."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.models import ScoreCard
from domain.report import Report

SINCE = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
NAMES = {"3101": "Partner 3101 GmbH", "3102": "Fabrikam Ltd"}


def full_report() -> Report:
    return Report(
        generated_at=datetime(2026, 12, 7, 7, 0, tzinfo=UTC),
        since=SINCE,
        referrals_total=1234,
        by_status={"active": 1000, "completed": 230, "escalated": 4},
        assignments_total=1500,
        answered_within_sla_pct=87.5,
        expiries=3,
        escalations=1,
        acceptance_rate_by_partner={
            "3101": {
                "assigned": 10,
                "accepted": 7,
                "declined": 2,
                "expired": 1,
                "acceptance_rate": 0.7,
            },
            "3102": {
                "assigned": 2,
                "accepted": 0,
                "declined": 0,
                "expired": 0,
                "acceptance_rate": None,
            },
        },
        declines_by_reason={"partner_at_capacity": 2, "customer_unresponsive": 1},
        time_to_accept_median_hours=2.5,
        time_to_accept_p90_hours=0.5,
        open_by_age={"<1d": 3, "1-3d": 2, "3-7d": 0, ">7d": 1},
        parts_by_status={"active": 2},
        decline_rate_by_partner={
            "3101": {
                "decided": 9,
                "declined": 2,
                "decline_rate": 0.22,
                "by_reason": {"partner_at_capacity": 2},
            },
        },
        decline_rate_by_reason={
            "partner_at_capacity": {"declines": 2, "decline_rate": 0.14, "share": 0.67},
        },
        contact_sla={
            "business_days": 2,
            "compliance_pct": 33.3,
            "in_time": 1,
            "late": 1,
            "overdue": 1,
            "waiting": 0,
        },
        time_to_accept_by_type={
            "benefit": {"accepted": 5, "median_hours": 2.0, "p90_hours": 10.0},
        },
        time_to_accept_by_country={
            "DE": {"accepted": 5, "median_hours": 2.0, "p90_hours": 10.0},
        },
        cpor_claimant_referrals=2,
        stuck=[
            {
                "referral_id": "FT-STUCK",
                "status": "pending",
                "why": "waiting past its deadline 2026-03-04 09:00 UTC",
            }
        ],
        account_team_first={"judged": 4, "before_kickoff": 3, "share_pct": 75.0},
        floor_crossed=[
            ScoreCard(
                "3102",
                0.31,
                0.8,
                "needs_attention",
                "0.30-0.35",
                offers=6,
                expired=3,
                declined_partner=2,
                completed=1,
            ),
        ],
    )
