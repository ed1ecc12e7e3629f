"""The report's answers to the program guide's questions: decline rates by partner and by
reason, the customer-contact SLA after accept, time to accept by type and country, and the
referrals that went to a CPOR claimant. Read from the read model (see `db.reports`).

Definitions (the period, `domain.report.Period`, limits assignments by assigned_at and referral
rows by created_at; `within`):
- decided = accepted (accepted or completed) + declined + expired assignments; a partner's
  decline_rate = declined / decided; a reason's decline_rate = its declines / all decided,
  its share = its declines / all declines; three decimals, None when nothing was decided;
- accepted_at of an assignment: the partner's "accepted" entry in the audit trail (for one
  still accepted, its decided_at is the same moment; a completed one's decided_at is the
  completion, so it counts only where the trail has no entry); answered at = accepted_at
  when it was accepted, else decided_at;
- contact SLA: referral rows (referrals and parts) with a customer-contact deadline (set on
  accept): contacted in time (contacted_at <= deadline), late, overdue (no contact, deadline
  passed at `now`) or waiting (no contact, deadline ahead); compliance_pct = in time /
  (in time + late + overdue), one decimal;
- time to accept: `domain.acceptance.time_to_accept` in hours, per type and customer country:
  count, median and p90 (nearest rank), two decimals;
- cpor_claimant_referrals: referral rows (referrals or parts) with an assignment chosen by
  the CPOR claim rule (`rank_keys.rule == "cpor"` in its explanation).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, and_, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from db.models import AssignmentRecord, AuditEvent, ReferralRecord
from domain.acceptance import answered_in_time, time_to_accept
from domain.models import Outcome
from domain.report import Period
from domain.track_record import account_team_first as team_contacted_first

ACCEPTED_ACTION = "accepted"
CPOR_RULE = "cpor"


def accepted_at_column() -> ColumnElement[datetime]:
    """When the assignment was accepted (NULL when it never was): see the module docstring."""
    a = AssignmentRecord
    from_audit = (
        select(func.min(AuditEvent.at))
        .where(
            AuditEvent.workflow_id == a.workflow_id,
            AuditEvent.action == ACCEPTED_ACTION,
            AuditEvent.actor == literal("partner:", String) + a.partner_id,
            AuditEvent.at >= a.assigned_at,
            AuditEvent.refused.is_(False),
        )
        .scalar_subquery()
    )
    return case(
        (a.outcome == Outcome.ACCEPTED, a.decided_at),
        (a.outcome == Outcome.COMPLETED, func.coalesce(from_audit, a.decided_at)),
        (a.outcome == Outcome.DECLINED, from_audit),
        else_=None,
    )


def answered_at_column() -> ColumnElement[datetime]:
    """When the partner answered: the accept when it accepted (a later decline or completion
    does not move it), else the decline's decided_at."""
    return func.coalesce(accepted_at_column(), AssignmentRecord.decided_at)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)) - 1, 0)]


def hours_summary(hours: Sequence[float]) -> dict[str, Any]:
    return {
        "accepted": len(hours),
        "median_hours": round(statistics.median(hours), 2) if hours else None,
        "p90_hours": round(_percentile(hours, 90), 2) if hours else None,
    }


def within(column: Any, period: Period) -> list[ColumnElement[bool]]:
    """`column` in the report's period: since <= column < until (an open end: no bound)."""
    bounds: list[ColumnElement[bool]] = []
    if period.since is not None:
        bounds.append(column >= period.since)
    if period.until is not None:
        bounds.append(column < period.until)
    return bounds


async def decline_rates(
    session: AsyncSession, period: Period
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(by partner, by reason)."""
    a = AssignmentRecord
    stmt = (
        select(a.partner_id, a.outcome, a.reason, func.count())
        .where(a.outcome.in_(Outcome.DECIDED), *within(a.assigned_at, period))
        .group_by(a.partner_id, a.outcome, a.reason)
    )
    partners: dict[str, dict[str, Any]] = {}
    reasons: dict[str, int] = {}
    decided_all = 0
    for partner, outcome, reason, n in (await session.execute(stmt)).all():
        p = partners.setdefault(partner, {"decided": 0, "declined": 0, "by_reason": {}})
        p["decided"] += n
        decided_all += n
        if outcome == Outcome.DECLINED:
            p["declined"] += n
            p["by_reason"][reason] = p["by_reason"].get(reason, 0) + n
            reasons[reason] = reasons.get(reason, 0) + n
    for p in partners.values():
        p["decline_rate"] = _rate(p["declined"], p["decided"])
        p["by_reason"] = dict(sorted(p["by_reason"].items()))
    declines_all = sum(reasons.values())
    by_reason = {
        reason: {
            "declines": n,
            "decline_rate": _rate(n, decided_all),
            "share": _rate(n, declines_all),
        }
        for reason, n in sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    }
    return dict(sorted(partners.items())), by_reason


async def contact_sla(
    session: AsyncSession, period: Period, now: datetime, business_days: int
) -> dict[str, Any]:
    r = ReferralRecord
    due = r.state[("milestones", "contact_due_at")].as_string()
    contacted = r.state[("milestones", "contacted_at")].as_string()
    stmt = select(due, contacted).where(due.is_not(None), *within(r.created_at, period))
    counts = {"in_time": 0, "late": 0, "overdue": 0, "waiting": 0}
    for due_text, contacted_text in (await session.execute(stmt)).all():
        due_at = _parse(due_text)
        if due_at is None:
            continue
        contacted_at = _parse(contacted_text)
        if contacted_at is not None:
            counts["in_time" if contacted_at <= due_at else "late"] += 1
        else:
            counts["overdue" if due_at < now else "waiting"] += 1
    judged = counts["in_time"] + counts["late"] + counts["overdue"]
    return {
        "business_days": business_days,
        "accepted": judged + counts["waiting"],
        **counts,
        "compliance_pct": round(100 * counts["in_time"] / judged, 1) if judged else None,
    }


def accept_hours(assigned: datetime, notified: datetime | None, accepted: datetime) -> float:
    """`domain.acceptance.time_to_accept` of a stored assignment, in hours."""
    took = time_to_accept(aware(assigned), aware(notified) if notified else None, aware(accepted))
    assert took is not None
    return took.total_seconds() / 3600


def in_time(outcome: str, answered: datetime | str | None, due: datetime | None) -> bool | None:
    """`domain.acceptance.answered_in_time` of a stored assignment (`answered`: its
    `answered_at_column`)."""
    return answered_in_time(
        outcome, aware(answered) if answered else None, aware(due) if due else None
    )


async def account_team_first(session: AsyncSession, period: Period) -> dict[str, Any]:
    """Referrals requested from Microsoft that reached kick-off or recorded the account team
    contact: how many contacted the account team before the kick-off (or without one yet)."""
    r = ReferralRecord
    microsoft = r.referral[("requested_by", "microsoft")].as_boolean()
    team = r.state[("milestones", "account_team_contacted_at")].as_string()
    kickoff = r.state[("milestones", "kickoff_at")].as_string()
    stmt = select(team, kickoff).where(microsoft.is_(True), *within(r.created_at, period))
    judged = first = 0
    for team_text, kickoff_text in (await session.execute(stmt)).all():
        team_at, kickoff_at = _parse(team_text), _parse(kickoff_text)
        if team_at is None and kickoff_at is None:
            continue
        judged += 1
        if team_contacted_first(team_at, kickoff_at):
            first += 1
    return {
        "judged": judged,
        "before_kickoff": first,
        "share_pct": round(100 * first / judged, 1) if judged else None,
    }


async def time_to_accept_by(
    session: AsyncSession, period: Period
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(by referral type, by customer country)."""
    a, r = AssignmentRecord, ReferralRecord
    accepted_at = accepted_at_column().label("accepted_at")
    inner = (
        select(a.assigned_at, a.notified_at, accepted_at, r.type, r.customer_country)
        .join(r, r.workflow_id == a.workflow_id)
        .where(a.outcome.in_(Outcome.ANSWERED), *within(a.assigned_at, period))
    )
    rows = inner.subquery()
    stmt = select(rows).where(rows.c.accepted_at.is_not(None))
    by_type: dict[str, list[float]] = {}
    by_country: dict[str, list[float]] = {}
    for assigned, notified, accepted, kind, country in (await session.execute(stmt)).all():
        hours = accept_hours(assigned, notified, accepted)
        by_type.setdefault(kind, []).append(hours)
        by_country.setdefault(country, []).append(hours)
    return (
        {k: hours_summary(v) for k, v in sorted(by_type.items())},
        {k: hours_summary(v) for k, v in sorted(by_country.items())},
    )


async def cpor_claimant_referrals(session: AsyncSession, period: Period) -> int:
    a = AssignmentRecord
    rule = cast(a.explanation[("rank_keys", "rule")].as_string(), String)
    stmt = select(func.count(func.distinct(a.workflow_id))).where(
        and_(rule == CPOR_RULE), *within(a.assigned_at, period)
    )
    return int(await session.scalar(stmt) or 0)


def aware(value: datetime | str) -> datetime:
    """A UTC-aware datetime (naive values, and ISO text as SQLite returns from a subquery,
    are taken as UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return aware(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None
