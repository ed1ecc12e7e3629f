"""Rows for the spreadsheet exports: the report's one row per assignment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.integration_models import ExternalRef
from db.models import AssignmentRecord, Partner, ReferralRecord
from db.report_figures import (
    accept_hours,
    accepted_at_column,
    answered_at_column,
    aware,
    in_time,
)

ASSIGNMENT_HEADER = (
    "referral_id",
    "id",
    "type",
    "customer_country",
    "seats",
    "workloads",
    "status",
    "seq",
    "partner",
    "partner_name",
    "outcome",
    "assigned_at",
    "due_at",
    "decided_at",
    "answered_within_sla",
    "hours_to_accept",
    "reason",
    "external_ref",
)


@dataclass(frozen=True)
class AssignmentExport:
    referral_id: str
    workflow_id: str
    type: str
    customer_country: str
    seats: int
    workloads: list[str]
    status: str
    seq: int
    partner: str
    partner_name: str
    outcome: str
    assigned_at: datetime
    due_at: datetime | None
    decided_at: datetime | None
    notified_at: datetime | None
    accepted_at: datetime | None
    answered_at: datetime | None
    reason: str
    external_ref: str | None

    @property
    def answered_within_sla(self) -> bool | None:
        """`domain.acceptance.answered_in_time`, as the report counts it."""
        return in_time(self.outcome, self.answered_at, self.due_at)

    @property
    def hours_to_accept(self) -> float | None:
        """`domain.acceptance.time_to_accept` in hours, as the report counts it."""
        if self.accepted_at is None:
            return None
        return round(accept_hours(self.assigned_at, self.notified_at, self.accepted_at), 2)

    def cells(self) -> tuple[object, ...]:
        return (
            self.referral_id,
            self.workflow_id,
            self.type,
            self.customer_country,
            self.seats,
            self.workloads,
            self.status,
            self.seq,
            self.partner,
            self.partner_name,
            self.outcome,
            self.assigned_at,
            self.due_at,
            self.decided_at,
            self.answered_within_sla,
            self.hours_to_accept,
            self.reason,
            self.external_ref,
        )


async def assignment_rows(
    sessions: async_sessionmaker[AsyncSession], since: datetime | None
) -> list[AssignmentExport]:
    """Every assignment (assigned at or after `since`), in assignment order."""
    a, r = AssignmentRecord, ReferralRecord
    stmt = (
        select(
            a.referral_id,
            a.workflow_id,
            r.type,
            r.customer_country,
            r.seats,
            r.workloads,
            r.status,
            a.seq,
            a.partner_id,
            Partner.name,
            a.outcome,
            a.assigned_at,
            a.due_at,
            a.decided_at,
            a.notified_at,
            accepted_at_column(),
            answered_at_column(),
            a.reason,
            ExternalRef.external_ref,
        )
        .join(r, r.workflow_id == a.workflow_id)
        .outerjoin(Partner, Partner.mpn_id == a.partner_id)
        .outerjoin(
            ExternalRef,
            and_(ExternalRef.workflow_id == a.workflow_id, ExternalRef.mpn_id == a.partner_id),
        )
        .order_by(a.assigned_at, a.workflow_id, a.seq)
    )
    if since is not None:
        stmt = stmt.where(a.assigned_at >= since)
    async with sessions() as session:
        rows = (await session.execute(stmt)).all()
    return [
        AssignmentExport(
            referral_id=x[0],
            workflow_id=x[1],
            type=x[2],
            customer_country=x[3],
            seats=x[4],
            workloads=list(x[5]),
            status=x[6],
            seq=x[7],
            partner=x[8],
            partner_name=x[9] or "",
            outcome=x[10],
            assigned_at=x[11],
            due_at=x[12],
            decided_at=x[13],
            notified_at=x[14],
            accepted_at=aware(x[15]) if x[15] is not None else None,
            answered_at=aware(x[16]) if x[16] is not None else None,
            reason=x[17],
            external_ref=x[18],
        )
        for x in rows
    ]
