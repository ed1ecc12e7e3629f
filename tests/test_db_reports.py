"""Operations report over a seeded history whose figures are worked out by hand."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from db.readmodel import ReferralReadModel
from db.reports import build_report
from domain.models import Assignment, Outcome, Reason, Status
from tests.dbfixtures import T0, Database, assignment, event, snapshot

H = timedelta(hours=1)
NOW = T0 + timedelta(days=10)


def _a(
    seq: int, partner: str, outcome: str, assigned_h: int, decided_h: int | None, **kw: Any
) -> Assignment:
    return assignment(
        seq,
        partner,
        outcome,
        assigned_at=T0 + assigned_h * H,
        due_at=T0 + (assigned_h + 48) * H,
        decided_at=T0 + decided_h * H if decided_h is not None else None,
        **kw,
    )


async def _seed(database: Database) -> None:
    rm = ReferralReadModel(database.sessionmaker)
    snaps = [
        # FT-1: accepted after 4 h, completed
        snapshot("FT-1", Status.COMPLETED, [_a(1, "100", Outcome.COMPLETED, 0, 4)]),
        # FT-2: expired, escalated, retried, declined (capacity) in time, now pending
        snapshot(
            "FT-2",
            Status.PENDING,
            [
                _a(1, "200", Outcome.EXPIRED, 0, 48),
                _a(2, "100", Outcome.DECLINED, 48, 58, reason=Reason.PARTNER_AT_CAPACITY),
                _a(3, "300", Outcome.PENDING, 72, None),
            ],
            [event(30, "escalated")],
            created_at=NOW - 12 * H,
        ),
        # FT-3: a late decline, then accepted after 20 h
        snapshot(
            "FT-3",
            Status.ACTIVE,
            [
                _a(1, "200", Outcome.DECLINED, 0, 72, reason=Reason.CUSTOMER_UNRESPONSIVE),
                _a(2, "300", Outcome.ACCEPTED, 72, 92),
            ],
            created_at=NOW - 48 * H,
        ),
        # FT-4: expired, then escalated
        snapshot(
            "FT-4",
            Status.ESCALATED,
            [_a(1, "100", Outcome.EXPIRED, 0, 48)],
            [event(50 * 60, "escalated")],
            created_at=NOW - 120 * H,
        ),
        # FT-5: split; its part accepted after 1 h
        snapshot("FT-5", Status.SPLIT),
        snapshot(
            "FT-5",
            Status.ACTIVE,
            [_a(1, "200", Outcome.ACCEPTED, 0, 1)],
            workflow_id="FT-5/part-1",
            parent_id="FT-5",
        ),
        # FT-6: cancelled while assigned
        snapshot("FT-6", Status.CANCELLED, [_a(1, "300", Outcome.WITHDRAWN, 0, 2)]),
        # FT-7: accepted late (60 h), completed
        snapshot("FT-7", Status.COMPLETED, [_a(1, "300", Outcome.COMPLETED, 0, 60)]),
    ]
    for snap in snaps:
        await rm.sync(snap, now=NOW)


async def test_report_figures(database: Database) -> None:
    await _seed(database)
    report = await build_report(database.sessionmaker, None, NOW)

    assert report.generated_at == NOW and report.since is None
    assert report.referrals_total == 7
    assert report.by_status == {
        "active": 1,
        "cancelled": 1,
        "completed": 2,
        "escalated": 1,
        "pending": 1,
        "split": 1,
    }
    assert report.parts_by_status == {"active": 1}
    assert report.assignments_total == 10
    # answered: FT-1, FT-2#2, FT-3#1 (late), FT-3#2, FT-5 part, FT-7 (late); expired: 2
    assert report.answered_within_sla_pct == 50.0
    assert report.expiries == 2
    assert report.escalations == 2
    assert report.acceptance_rate_by_partner == {
        "100": {
            "assigned": 3,
            "accepted": 1,
            "declined": 1,
            "expired": 1,
            "acceptance_rate": 0.333,
        },
        "200": {
            "assigned": 3,
            "accepted": 1,
            "declined": 1,
            "expired": 1,
            "acceptance_rate": 0.333,
        },
        "300": {"assigned": 4, "accepted": 2, "declined": 0, "expired": 0, "acceptance_rate": 1.0},
    }
    assert report.declines_by_reason == {"customer_unresponsive": 1, "partner_at_capacity": 1}
    # hours to accept: 1, 4, 20, 60
    assert report.time_to_accept_median_hours == 12.0
    assert report.time_to_accept_p90_hours == 60.0
    assert report.open_by_age == {"<1d": 1, "1-3d": 1, "3-7d": 1, ">7d": 1}


async def test_report_since(database: Database) -> None:
    await _seed(database)
    report = await build_report(database.sessionmaker, T0 + 24 * H, NOW)

    assert report.referrals_total == 3  # FT-2, FT-3, FT-4 were created after `since`
    assert report.assignments_total == 3  # FT-2#2, FT-2#3, FT-3#2
    assert report.answered_within_sla_pct == 100.0
    assert report.expiries == 0
    assert report.escalations == 1
    assert report.declines_by_reason == {"partner_at_capacity": 1}
    assert report.time_to_accept_median_hours == 20.0
    assert report.open_by_age == {"<1d": 1, "1-3d": 1, "3-7d": 1, ">7d": 1}


async def test_empty_report(database: Database) -> None:
    report = await build_report(database.sessionmaker, None, NOW)
    assert report.referrals_total == 0 and report.by_status == {}
    assert report.answered_within_sla_pct is None
    assert report.time_to_accept_median_hours is None
    assert report.time_to_accept_p90_hours is None
    assert report.acceptance_rate_by_partner == {}
    assert report.open_by_age == {"<1d": 0, "1-3d": 0, "3-7d": 0, ">7d": 0}


async def test_report_until(database: Database) -> None:
    """The period's end is excluded; open referrals stay a picture of now."""
    await _seed(database)
    until = T0 + 60 * H
    report = await build_report(database.sessionmaker, T0 + 24 * H, NOW, until=until)

    assert report.until == until
    assert report.referrals_total == 0  # FT-2, FT-3, FT-4 were created after `until`
    assert report.assignments_total == 1  # FT-2#2 (assigned at 48 h); FT-2#3, FT-3#2 at 72 h
    assert report.declines_by_reason == {"partner_at_capacity": 1}
    assert report.time_to_accept_median_hours is None
    assert report.open_by_age == {"<1d": 1, "1-3d": 1, "3-7d": 1, ">7d": 1}
