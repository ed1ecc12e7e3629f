"""The referral read model: one row per referral or split part, its assignments and its audit
trail, written from workflow snapshots; list / detail / history queries for the CLI and portal.

Load bookkeeping invariant: `partners.open_assignments` counts the partner's assignment rows
whose outcome is open (pending/accepted). Whoever inserts an open row increments it
(`reserve_assignment`, or `sync` when it inserts the row itself); `sync` decrements it exactly
when a stored row's outcome moves from open to closed (a conditional UPDATE, so retries and
concurrent syncs cannot count twice), and counts `partner_at_capacity` declines once.
"""

from __future__ import annotations

import builtins
import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from types import EllipsisType
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from db.candidates import bump_tick
from db.models import AssignmentRecord, AuditEvent, Partner, ReferralRecord
from db.track_record import Changes, apply_changes, assignment_changes, milestone_changes
from db.transactions import insert_ignore, run_write, table_of
from domain import overdue as overdue_rule
from domain import watchdog
from domain.jsonable import jsonable
from domain.models import Assignment, Outcome, Snapshot, Status
from domain.validation import referral_to_json


@dataclass
class ReferralRow:
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
    updated_at: datetime
    closed_at: datetime | None
    state: dict[str, Any]
    referral: dict[str, Any]
    waits_until: datetime | None = None


@dataclass
class AuditEventRow:
    workflow_id: str
    referral_id: str
    seq: int
    at: datetime
    actor: str
    action: str
    detail: str
    refused: bool


def _row(r: ReferralRecord) -> ReferralRow:
    return ReferralRow(
        workflow_id=r.workflow_id,
        referral_id=r.referral_id,
        parent_id=r.parent_id,
        type=r.type,
        status=r.status,
        partner_id=r.partner_id,
        customer_country=r.customer_country,
        seats=r.seats,
        workloads=list(r.workloads),
        sla_due_at=r.sla_due_at,
        escalated=r.escalated,
        contact_overdue=r.contact_overdue,
        created_at=r.created_at,
        updated_at=r.updated_at,
        closed_at=r.closed_at,
        state=r.state,
        referral=r.referral,
        waits_until=r.waits_until,
    )


def _assignment_columns(a: Assignment) -> dict[str, Any]:
    return {
        "partner_id": a.partner,
        "outcome": a.outcome,
        "assigned_at": a.assigned_at,
        "due_at": a.due_at,
        "decided_at": a.decided_at,
        "notified_at": a.notified_at,
        "reason": a.reason,
        "note": a.note,
        "explanation": jsonable(a.explanation) if a.explanation is not None else None,
    }


# Statements built once and executed with parameters, so that their compiled forms are cached.
_REFERRALS = table_of(ReferralRecord)
_ASSIGNMENTS = table_of(AssignmentRecord)
_COMPARED = ("outcome", "due_at", "decided_at", "notified_at", "reason", "note")
_INSERT_REFERRAL = insert(_REFERRALS)
_UPDATE_REFERRAL = update(_REFERRALS).where(_REFERRALS.c.workflow_id == bindparam("b_workflow_id"))
_STORED_ASSIGNMENTS = select(
    _ASSIGNMENTS.c.id, _ASSIGNMENTS.c.seq, *(_ASSIGNMENTS.c[name] for name in _COMPARED)
).where(_ASSIGNMENTS.c.workflow_id == bindparam("b_workflow_id"))
_UPDATE_ASSIGNMENT = update(_ASSIGNMENTS).where(
    _ASSIGNMENTS.c.id == bindparam("b_id"), _ASSIGNMENTS.c.outcome == bindparam("b_outcome")
)


@functools.cache
def _stored_referral(dialect: str) -> Select[Any]:
    """The stored row's closed_at and number of history entries in its state snapshot."""
    state = _REFERRALS.c.state
    if dialect == "postgresql":
        length = func.json_array_length(state.op("->")("history"))
    else:
        length = func.json_array_length(state, "$.history")
    return (
        select(_REFERRALS.c.closed_at, length)
        .where(_REFERRALS.c.workflow_id == bindparam("b_workflow_id"))
        .with_for_update()
    )


def _is_open(outcome: str) -> bool:
    return outcome in Outcome.OPEN


_OPEN_AFTER = Partner.open_assignments + bindparam("b_open", type_=Integer)
_ADJUST_PARTNER = (
    update(Partner)
    .where(Partner.mpn_id == bindparam("b_mpn_id"))
    .values(
        open_assignments=case((_OPEN_AFTER < 0, 0), else_=_OPEN_AFTER),
        change_tick=bindparam("b_tick"),
    )
)


def _adjust_partner(session: Session, mpn_id: str, open_delta: int) -> None:
    """Count an assignment opened (+1) or closed (-1) in the partner's load."""
    if not open_delta:
        return
    conn = session.connection()
    tick = bump_tick(conn)  # before the partner row: see db.candidates.bump_tick
    params = {"b_mpn_id": mpn_id, "b_open": open_delta}
    conn.execute(_ADJUST_PARTNER, {**params, "b_tick": tick})


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """`domain.overdue.is_overdue` as a condition on the referral rows."""
    r = ReferralRecord
    return and_(
        r.status.not_in(Status.CLOSED),
        or_(
            r.sla_due_at < now,
            and_(r.contact_overdue.is_(True), r.status == overdue_rule.CONTACT_STATUS),
        ),
    )


class ReferralReadModel:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], record_window_days: int = 365
    ) -> None:
        self._sessionmaker = sessionmaker
        self._window_days = record_window_days  # RANKING_WINDOW: the track record's window

    # -- writes -------------------------------------------------------------------------

    async def reserve_assignment(
        self, workflow_id: str, referral_id: str, assignment: Assignment
    ) -> bool:
        """Record a new open assignment (matching reserves the partner): insert the row,
        count it in the partner's open_assignments and set last_assigned_at. Idempotent per
        (workflow_id, seq); True when this call inserted the row."""

        def work(session: Session) -> bool:
            values: dict[str, Any] = {"workflow_id": workflow_id, "referral_id": referral_id}
            values |= {"seq": assignment.seq, **_assignment_columns(assignment)}
            inserted = insert_ignore(session, AssignmentRecord, values)
            if inserted:
                changes: Changes = {}
                assignment_changes(changes, assignment, None)
                apply_changes(session, changes, assignment.assigned_at, self._window_days)
            if inserted and _is_open(assignment.outcome):
                _adjust_partner(session, assignment.partner, 1)
                session.execute(
                    update(Partner)
                    .where(Partner.mpn_id == assignment.partner)
                    .values(last_assigned_at=assignment.assigned_at)
                )
            return inserted

        return await run_write(self._sessionmaker, work)

    async def sync(self, snapshot: Snapshot, now: datetime | None = None) -> None:
        """Write a workflow snapshot (idempotent; safe to retry). A snapshot older than the
        stored one (fewer history entries) is ignored."""
        at = now or datetime.now(UTC)
        await run_write(self._sessionmaker, lambda session: self.write(session, snapshot, at))

    def write(self, session: Session, snapshot: Snapshot, now: datetime) -> int | None:
        """`sync` inside the caller's write transaction; the partners' track records move
        with the outcomes and milestones it records for the first time. Returns how many
        history entries were stored before (None: the stored snapshot is newer, nothing was
        written)."""
        stored_history = self._write_referral(session, snapshot, now)
        if stored_history is not None:
            changes: Changes = {}
            self._write_assignments(session, snapshot, changes)
            self._write_audit(session, snapshot, stored_history)
            milestone_changes(changes, snapshot.state, snapshot.state.history[stored_history:])
            apply_changes(session, changes, now, self._window_days)
        return stored_history

    @staticmethod
    def _write_referral(session: Session, snapshot: Snapshot, now: datetime) -> int | None:
        """Insert or update the referral's row (core statements: this runs on every change of
        every referral). Returns how many history entries the stored snapshot had (0 for a new
        row), or None when the stored snapshot is newer and nothing was written."""
        state = snapshot.state
        conn = session.connection()
        stored = conn.execute(
            _stored_referral(conn.dialect.name), {"b_workflow_id": state.workflow_id}
        ).first()
        stored_history = (stored[1] or 0) if stored is not None else 0
        if stored_history > len(state.history):
            return None
        current = state.current
        closed_at = None
        if state.status in Status.CLOSED:
            completed_at = state.completion.completed_at if state.completion else None
            last_event = state.history[-1].at if state.history else None
            closed_at = (stored[0] if stored else None) or completed_at or last_event or now
        columns: dict[str, Any] = {
            "referral_id": state.referral_id,
            "parent_id": state.parent_id,
            "type": state.type,
            "status": state.status,
            "partner_id": current.partner if current else None,
            "customer_country": state.customer_country,
            "seats": state.seats,
            "workloads": list(state.workloads),
            "sla_due_at": current.due_at
            if current and current.outcome == Outcome.PENDING
            else None,
            "escalated": state.status == Status.ESCALATED,
            "contact_overdue": state.milestones.contact_overdue,
            "created_at": state.created_at,
            "closed_at": closed_at,
            "waits_until": watchdog.waits_until(state),
            "referral": referral_to_json(snapshot.referral),
            "state": jsonable(state),
            "updated_at": now,
        }
        if stored is None:
            conn.execute(_INSERT_REFERRAL, {"workflow_id": state.workflow_id, **columns})
        else:
            conn.execute(_UPDATE_REFERRAL, {"b_workflow_id": state.workflow_id, **columns})
        return stored_history

    @staticmethod
    def _write_assignments(session: Session, snapshot: Snapshot, changes: Changes) -> None:
        state = snapshot.state
        vas_sold = bool(state.completion and state.completion.vas_sold)
        conn = session.connection()
        stored = {
            row.seq: row
            for row in conn.execute(_STORED_ASSIGNMENTS, {"b_workflow_id": state.workflow_id})
        }
        for a in state.assignments:
            columns = _assignment_columns(a)
            old = stored.get(a.seq)
            if old is None:
                values: dict[str, Any] = {
                    "workflow_id": state.workflow_id,
                    "referral_id": state.referral_id,
                }
                values |= {"seq": a.seq, **columns}
                if insert_ignore(session, AssignmentRecord, values):
                    _adjust_partner(session, a.partner, int(_is_open(a.outcome)))
                    assignment_changes(changes, a, None, vas_sold)
                continue
            if all(getattr(old, name) == columns[name] for name in _COMPARED):
                continue  # nothing of this assignment changed since it was stored
            result = conn.execute(
                _UPDATE_ASSIGNMENT, {"b_id": old.id, "b_outcome": old.outcome, **columns}
            )
            if getattr(result, "rowcount", 0) != 1 or old.outcome == a.outcome:
                continue
            assignment_changes(changes, a, old.outcome, vas_sold)
            open_delta = int(_is_open(a.outcome)) - int(_is_open(old.outcome))
            _adjust_partner(session, a.partner, open_delta)

    @staticmethod
    def _write_audit(session: Session, snapshot: Snapshot, stored_history: int) -> None:
        """The history entries the stored snapshot did not have yet (its audit rows were
        written with it, in the same transaction); a replayed entry is ignored."""
        state = snapshot.state
        rows = [
            {
                "workflow_id": state.workflow_id,
                "referral_id": state.referral_id,
                "seq": seq,
                "at": entry.at,
                "actor": entry.actor,
                "action": entry.action,
                "detail": entry.detail,
                "refused": entry.refused,
            }
            for seq, entry in enumerate(state.history)
            if seq >= stored_history
        ]
        if rows:
            insert_ignore(session, AuditEvent, rows)

    # -- reads --------------------------------------------------------------------------

    async def get(self, workflow_id: str) -> ReferralRow | None:
        async with self._sessionmaker() as session:
            row = await session.get(ReferralRecord, workflow_id)
        return _row(row) if row else None

    async def list(
        self,
        status: str | None = None,
        partner: str | None = None,
        type: str | None = None,
        country: str | None = None,
        overdue: bool = False,
        now: datetime | None = None,
        parent: str | EllipsisType | None = ...,
    ) -> builtins.list[ReferralRow]:
        """Filtered rows, oldest first. `partner` is the currently assigned partner;
        `overdue`: `domain.overdue` at `now`; `parent`: `...` any row, `None` top-level
        referrals only, an id: its parts."""
        stmt = select(ReferralRecord)
        if status is not None:
            stmt = stmt.where(ReferralRecord.status == status)
        if partner is not None:
            stmt = stmt.where(ReferralRecord.partner_id == partner)
        if type is not None:
            stmt = stmt.where(ReferralRecord.type == type)
        if country is not None:
            stmt = stmt.where(ReferralRecord.customer_country == country)
        if overdue:
            stmt = stmt.where(overdue_clause(now or datetime.now(UTC)))
        if parent is None:
            stmt = stmt.where(ReferralRecord.parent_id.is_(None))
        elif isinstance(parent, str):
            stmt = stmt.where(ReferralRecord.parent_id == parent)
        return await self._rows(stmt)

    async def rows_where(self, *conditions: Any) -> builtins.list[ReferralRow]:
        """Rows matching every SQL condition, oldest first."""
        return await self._rows(select(ReferralRecord).where(*conditions))

    async def known(self, referral_id: str) -> bool:
        """Whether the read model has seen this referral id (its row, a part's row or an
        assignment): it outlives the workflow, which Temporal forgets after retention."""
        seen = select(
            or_(
                exists().where(ReferralRecord.referral_id == referral_id),
                exists().where(ReferralRecord.workflow_id == referral_id),
                exists().where(AssignmentRecord.referral_id == referral_id),
            )
        )
        async with self._sessionmaker() as session:
            return bool(await session.scalar(seen))

    async def assignments_for_partner(
        self, mpn_id: str, status: str | None = None
    ) -> builtins.list[ReferralRow]:
        """Referrals and parts that were ever assigned to the partner, oldest first."""
        assigned = exists().where(
            AssignmentRecord.workflow_id == ReferralRecord.workflow_id,
            AssignmentRecord.partner_id == mpn_id,
        )
        stmt = select(ReferralRecord).where(assigned)
        if status is not None:
            stmt = stmt.where(ReferralRecord.status == status)
        return await self._rows(stmt)

    async def history(self, referral_id: str) -> builtins.list[AuditEventRow]:
        """The audit trail of a referral and its parts, in time order."""
        stmt = (
            select(AuditEvent)
            .where(AuditEvent.referral_id == referral_id)
            .order_by(AuditEvent.at, AuditEvent.workflow_id, AuditEvent.seq)
        )
        async with self._sessionmaker() as session:
            events = await session.scalars(stmt)
            return [
                AuditEventRow(
                    workflow_id=e.workflow_id,
                    referral_id=e.referral_id,
                    seq=e.seq,
                    at=e.at,
                    actor=e.actor,
                    action=e.action,
                    detail=e.detail,
                    refused=e.refused,
                )
                for e in events
            ]

    async def _rows(self, stmt: Select[ReferralRecord]) -> builtins.list[ReferralRow]:
        stmt = stmt.order_by(ReferralRecord.created_at, ReferralRecord.workflow_id)
        async with self._sessionmaker() as session:
            return [_row(r) for r in await session.scalars(stmt)]


row_of = _row  # a stored record as a row, for other queries of the read model

__all__ = [
    "AuditEventRow",
    "ReferralReadModel",
    "ReferralRow",
]
