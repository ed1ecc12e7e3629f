"""Operations report computed from the read model (assignments, referrals, audit events).

Definitions (the period, `domain.report.Period` from `since` to `until`, limits referrals by
created_at, assignments by assigned_at, audit events by at; `open_by_age` is a picture of now
and ignores the period):
- referrals_total / by_status: top-level referrals (split parts are in parts_by_status);
- answered_within_sla_pct: `domain.acceptance.answered_in_time` (answered by the deadline in
  force, at `db.report_figures.answered_at_column`; an expiry is late) as a percentage of the
  assignments it judges (answered or expired; None when there is none), one decimal;
- expiries: assignments expired; escalations: audit events with action "escalated";
- acceptance_rate_by_partner: accepted (accepted or completed) / (accepted + declined +
  expired), three decimals, None when nothing was decided;
- time to accept: `domain.acceptance.time_to_accept` (from the notification to the accept) in
  hours (also of assignments declined after accepting), median and p90 (nearest rank), two
  decimals;
- open_by_age: referral rows that are not closed and not split (referrals and parts), by
  age now - created_at: "<1d", "1-3d", "3-7d", ">7d" (lower bound inclusive);
- stuck: referrals and parts waiting past the longest deadline of what they wait on
  (`domain.watchdog`), a picture of now like open_by_age;
- decline rates, the customer-contact SLA, time to accept by type and country and the
  referrals that went to a CPOR claimant: see `db.report_figures`.
"""

from __future__ import annotations

import math
import statistics
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db import report_figures as figures
from db.models import AssignmentRecord, AuditEvent, ReferralRecord
from db.stuck import stuck_referrals
from domain.models import Outcome, Status
from domain.report import Period, Report

__all__ = ["Report", "build_report"]

ESCALATION_ACTION = "escalated"
AGE_BUCKETS: tuple[tuple[str, timedelta], ...] = (
    ("<1d", timedelta(days=1)),
    ("1-3d", timedelta(days=3)),
    ("3-7d", timedelta(days=7)),
)
OLDEST_BUCKET = ">7d"


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)) - 1, 0)]


async def build_report(
    sessionmaker: async_sessionmaker[AsyncSession],
    since: datetime | None,
    now: datetime,
    business_days: int = 2,
    until: datetime | None = None,
) -> Report:
    """The report at `now` of the period from `since` to `until` (each None: open);
    `business_days` is the customer-contact window (SLA_BUSINESS_DAYS)."""
    period = Period(since, until)
    async with sessionmaker() as session:
        referrals = await _referral_counts(session, period)
        partners, sla, declines, accept_hours = await _assignment_figures(session, period)
        escalations = await _escalations(session, period)
        open_by_age = await _open_by_age(session, now)
        decline_by_partner, decline_by_reason = await figures.decline_rates(session, period)
        contact = await figures.contact_sla(session, period, now, business_days)
        accept_by_type, accept_by_country = await figures.time_to_accept_by(session, period)
        cpor = await figures.cpor_claimant_referrals(session, period)
        team_first = await figures.account_team_first(session, period)
    stuck = [
        {"referral_id": s.row.workflow_id, "status": s.row.status, "why": s.why}
        for s in await stuck_referrals(sessionmaker, now)
    ]

    top = {s: n for (s, is_part), n in referrals.items() if not is_part}
    parts = {s: n for (s, is_part), n in referrals.items() if is_part}
    answered_in_time, answered_or_expired = sla
    return Report(
        generated_at=now,
        since=since,
        until=until,
        referrals_total=sum(top.values()),
        by_status=dict(sorted(top.items())),
        assignments_total=sum(p["assigned"] for p in partners.values()),
        answered_within_sla_pct=(
            round(100 * answered_in_time / answered_or_expired, 1) if answered_or_expired else None
        ),
        expiries=sum(p["expired"] for p in partners.values()),
        escalations=escalations,
        acceptance_rate_by_partner=partners,
        declines_by_reason=declines,
        time_to_accept_median_hours=(
            round(statistics.median(accept_hours), 2) if accept_hours else None
        ),
        time_to_accept_p90_hours=round(_percentile(accept_hours, 90), 2) if accept_hours else None,
        open_by_age=open_by_age,
        parts_by_status=dict(sorted(parts.items())),
        decline_rate_by_partner=decline_by_partner,
        decline_rate_by_reason=decline_by_reason,
        contact_sla=contact,
        time_to_accept_by_type=accept_by_type,
        time_to_accept_by_country=accept_by_country,
        cpor_claimant_referrals=cpor,
        stuck=stuck,
        account_team_first=team_first,
    )


async def _referral_counts(session: AsyncSession, period: Period) -> dict[tuple[str, bool], int]:
    is_part = ReferralRecord.parent_id.is_not(None)
    stmt = (
        select(ReferralRecord.status, is_part, func.count())
        .where(*figures.within(ReferralRecord.created_at, period))
        .group_by(ReferralRecord.status, is_part)
    )
    return {(status, bool(part)): int(n) for status, part, n in (await session.execute(stmt)).all()}


async def _assignment_figures(
    session: AsyncSession, period: Period
) -> tuple[dict[str, dict[str, Any]], tuple[int, int], dict[str, int], list[float]]:
    a = AssignmentRecord
    window = figures.within(a.assigned_at, period)

    by_partner = select(a.partner_id, a.outcome, func.count()).where(*window)
    partners: dict[str, dict[str, Any]] = {}
    for partner, outcome, n in (
        await session.execute(by_partner.group_by(a.partner_id, a.outcome))
    ).all():
        p = partners.setdefault(
            partner, {"assigned": 0, "accepted": 0, "declined": 0, "expired": 0}
        )
        p["assigned"] += n
        if outcome in Outcome.TAKEN:
            p["accepted"] += n
        elif outcome in (Outcome.DECLINED, Outcome.EXPIRED):
            p[outcome] += n
    for p in partners.values():
        decided = p["accepted"] + p["declined"] + p["expired"]
        p["acceptance_rate"] = round(p["accepted"] / decided, 3) if decided else None

    judged = [
        in_time
        for outcome, answered_at, due_at in (
            await session.execute(
                select(a.outcome, figures.answered_at_column(), a.due_at).where(
                    a.outcome.in_(Outcome.DECIDED), *window
                )
            )
        ).all()
        if (in_time := figures.in_time(outcome, answered_at, due_at)) is not None
    ]

    decline_stmt = (
        select(a.reason, func.count())
        .where(a.outcome == Outcome.DECLINED, *window)
        .group_by(a.reason)
        .order_by(a.reason)
    )
    declines = {reason: int(n) for reason, n in (await session.execute(decline_stmt)).all()}

    accepted = select(a.assigned_at, a.notified_at, figures.accepted_at_column().label("at")).where(
        a.outcome.in_(Outcome.ANSWERED), *window
    )
    hours = [
        figures.accept_hours(assigned, notified, at)
        for assigned, notified, at in (await session.execute(accepted)).all()
        if at is not None
    ]
    return (
        dict(sorted(partners.items())),
        (sum(judged), len(judged)),
        declines,
        hours,
    )


async def _escalations(session: AsyncSession, period: Period) -> int:
    stmt = select(func.count()).where(
        AuditEvent.action == ESCALATION_ACTION, *figures.within(AuditEvent.at, period)
    )
    return int(await session.scalar(stmt) or 0)


async def _open_by_age(session: AsyncSession, now: datetime) -> dict[str, int]:
    counts = {name: 0 for name, _ in AGE_BUCKETS} | {OLDEST_BUCKET: 0}
    bucket = case(
        *((ReferralRecord.created_at > now - limit, name) for name, limit in AGE_BUCKETS),
        else_=OLDEST_BUCKET,
    )
    stmt = (
        select(bucket, func.count())
        .where(ReferralRecord.status.not_in((*Status.CLOSED, Status.SPLIT)))
        .group_by(bucket)
    )
    for name, n in (await session.execute(stmt)).all():
        counts[name] = int(n)
    return counts
