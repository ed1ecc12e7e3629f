"""Queries for the portal's pages: a partner's referrals (with its own latest outcome on each)
and the operators' search, paged, newest first, without loading workflow snapshots; the
report's figures by week."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import AssignmentRecord, ReferralRecord
from db.readmodel import overdue_clause
from db.report_figures import accept_hours, accepted_at_column, answered_at_column, in_time
from domain.models import Outcome
from domain.report import WEEK, week_start

_COLUMNS = (
    ReferralRecord.workflow_id,
    ReferralRecord.referral_id,
    ReferralRecord.parent_id,
    ReferralRecord.type,
    ReferralRecord.status,
    ReferralRecord.partner_id,
    ReferralRecord.customer_country,
    ReferralRecord.seats,
    ReferralRecord.workloads,
    ReferralRecord.sla_due_at,
    ReferralRecord.escalated,
    ReferralRecord.contact_overdue,
    ReferralRecord.created_at,
    ReferralRecord.referral,
)


@dataclass(frozen=True)
class ListRow:
    workflow_id: str
    referral_id: str
    parent_id: str | None
    type: str
    status: str
    partner_id: str | None
    customer_country: str
    seats: int
    workloads: list[str]
    sla_due_at: datetime | None
    escalated: bool
    contact_overdue: bool
    created_at: datetime
    customer_name: str
    own_outcome: str = ""  # the viewing partner's latest outcome on it


@dataclass(frozen=True)
class Page:
    rows: list[ListRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    type: str | None = None
    partner: str | None = None
    country: str | None = None
    overdue: bool = False
    escalated: bool = False


def _where(stmt: Select[Any], f: Filters, now: datetime) -> Select[Any]:
    if f.status:
        stmt = stmt.where(ReferralRecord.status == f.status)
    if f.type:
        stmt = stmt.where(ReferralRecord.type == f.type)
    if f.partner:
        stmt = stmt.where(ReferralRecord.partner_id == f.partner)
    if f.country:
        stmt = stmt.where(ReferralRecord.customer_country == f.country)
    if f.overdue:
        stmt = stmt.where(overdue_clause(now))
    if f.escalated:
        stmt = stmt.where(ReferralRecord.status == "escalated")
    return stmt


def _list_row(values: Any, own_outcome: str = "") -> ListRow:
    referral = values.referral or {}
    return ListRow(
        workflow_id=values.workflow_id,
        referral_id=values.referral_id,
        parent_id=values.parent_id,
        type=values.type,
        status=values.status,
        partner_id=values.partner_id,
        customer_country=values.customer_country,
        seats=values.seats,
        workloads=list(values.workloads),
        sla_due_at=values.sla_due_at,
        escalated=values.escalated,
        contact_overdue=values.contact_overdue,
        created_at=values.created_at,
        customer_name=str(referral.get("customer", {}).get("name", "")),
        own_outcome=own_outcome,
    )


class PortalQueries:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def partner_page(
        self, mpn_id: str, f: Filters, page: int, per_page: int, now: datetime
    ) -> Page:
        """The referrals and parts ever assigned to the partner, newest first."""
        # IN, not a correlated EXISTS: SQLite would probe the partner's index once per row.
        held = ReferralRecord.workflow_id.in_(
            select(AssignmentRecord.workflow_id).where(AssignmentRecord.partner_id == mpn_id)
        )
        base = _where(select(*_COLUMNS).where(held), f, now)
        async with self._sessionmaker() as session:
            total, rows = await self._page(session, base, page, per_page)
            ids = [r.workflow_id for r in rows]
            outcomes: dict[str, tuple[int, str]] = {}
            if ids:
                found = await session.execute(
                    select(
                        AssignmentRecord.workflow_id,
                        AssignmentRecord.seq,
                        AssignmentRecord.outcome,
                    ).where(
                        AssignmentRecord.partner_id == mpn_id,
                        AssignmentRecord.workflow_id.in_(ids),
                    )
                )
                for wid, seq, outcome in found.all():
                    if wid not in outcomes or seq > outcomes[wid][0]:
                        outcomes[wid] = (seq, outcome)
        return Page(
            [_list_row(r, outcomes.get(r.workflow_id, (0, ""))[1]) for r in rows],
            total,
            page,
            per_page,
        )

    async def search(self, f: Filters, page: int, per_page: int, now: datetime) -> Page:
        """Every referral and part matching the filters, newest first."""
        base = _where(select(*_COLUMNS), f, now)
        async with self._sessionmaker() as session:
            total, rows = await self._page(session, base, page, per_page)
        return Page([_list_row(r) for r in rows], total, page, per_page)

    @staticmethod
    async def _page(
        session: AsyncSession, base: Select[Any], page: int, per_page: int
    ) -> tuple[int, list[Any]]:
        counted = base.with_only_columns(func.count()).select_from(ReferralRecord)
        total = await session.scalar(counted.order_by(None))
        order = (ReferralRecord.created_at.desc(), ReferralRecord.workflow_id.desc())
        # Page the ids first (the index walks past the offset without reading rows), then
        # read the page's rows.
        ids = (
            base.with_only_columns(ReferralRecord.workflow_id)
            .order_by(*order)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        stmt = base.where(ReferralRecord.workflow_id.in_(ids.scalar_subquery())).order_by(*order)
        rows = (await session.execute(stmt)).all()
        return int(total or 0), list(rows)


@dataclass(frozen=True)
class Week:
    """One week's figures, with the report's definitions (db/reports.py)."""

    start: datetime
    referrals: int
    acceptance_rate_pct: float | None
    within_sla_pct: float | None
    time_to_accept_median_hours: float | None


async def weekly_trends(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime, weeks: int = 8
) -> list[Week]:
    """The last `weeks` weeks (`domain.report.week_start`), oldest first; the last one is
    the week of `now`."""
    monday = week_start(now)
    starts = [monday - i * WEEK for i in range(weeks - 1, -1, -1)]
    first = starts[0]
    a = AssignmentRecord
    async with sessionmaker() as session:
        created = (
            await session.scalars(
                select(ReferralRecord.created_at).where(
                    ReferralRecord.created_at >= first, ReferralRecord.parent_id.is_(None)
                )
            )
        ).all()
        assignments = (
            await session.execute(
                select(
                    a.assigned_at,
                    a.due_at,
                    a.decided_at,
                    a.outcome,
                    a.notified_at,
                    accepted_at_column().label("accepted_at"),
                    answered_at_column().label("answered_at"),
                ).where(a.assigned_at >= first)
            )
        ).all()
    out = []
    for start in starts:
        end = start + WEEK
        rows = [r for r in assignments if start <= r.assigned_at < end]
        accepted = [r for r in rows if r.outcome in Outcome.TAKEN]
        decided = [r for r in rows if r.outcome in Outcome.DECIDED]
        judged = [j for r in rows if (j := in_time(r.outcome, r.answered_at, r.due_at)) is not None]
        hours = sorted(  # as the report: `domain.acceptance.time_to_accept`
            accept_hours(r.assigned_at, r.notified_at, r.accepted_at)
            for r in rows
            if r.accepted_at is not None
        )
        out.append(
            Week(
                start=start,
                referrals=sum(1 for c in created if start <= c < end),
                acceptance_rate_pct=round(100 * len(accepted) / len(decided), 1)
                if decided
                else None,
                within_sla_pct=round(100 * sum(judged) / len(judged), 1) if judged else None,
                time_to_accept_median_hours=round(statistics.median(hours), 2) if hours else None,
            )
        )
    return out
