"""What each caller may see of a referral, as the API's Pydantic response models.

A partner sees the referrals it holds or held; what it sees of one is `domain.visibility`'s
rule (`access` = "outcome" when it keeps only its own outcome and dates)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from temporalio.converter import value_to_type

from db.readmodel import ReferralRow
from domain.business_days import format_local
from domain.models import Assignment, HistoryEntry, Milestones, Outcome, Referral, ReferralState
from domain.validation import referral_to_json
from domain.visibility import latest_outcome, sees_customer
from portal.gateway import Loaded
from portal.schemas import (
    AdminReferralDetail,
    AdminReferralItem,
    AssignmentOut,
    CompletionOut,
    CustomerOut,
    DueOut,
    HistoryOut,
    MilestonesOut,
    PartOut,
    ReferralDetail,
    ReferralItem,
    RequesterOut,
)

if TYPE_CHECKING:  # the web stack (FastAPI): the worker needs the views, not the app
    from portal.auth import Portal


def held_by(state: ReferralState, partner: str) -> bool:
    return any(a.partner == partner for a in state.assignments)


def let_go(state: ReferralState, partner: str) -> bool:
    """The partner keeps only its own outcome and dates of this referral."""
    return not sees_customer(latest_outcome(state.assignments, partner))


async def timezone_of(portal: Portal, partner: str | None) -> str:
    record = await portal.directory.get(partner) if partner else None
    return record.profile.timezone if record else "UTC"


def due(at: datetime | None, tz: str) -> DueOut | None:
    if at is None:
        return None
    try:
        local = format_local(at, tz)
    except ValueError:
        tz, local = "UTC", format_local(at, "UTC")
    return DueOut(utc=at, local=local, timezone=tz)


def customer_name(row: ReferralRow) -> str:
    return str(row.referral.get("customer", {}).get("name", ""))


def item(row: ReferralRow, viewer: str) -> ReferralItem:
    """A partner's list row."""
    current = row.partner_id == viewer
    shown = sees_customer(latest_outcome(row.state.get("assignments", []), viewer))
    return ReferralItem(
        id=row.workflow_id,
        referral_id=row.referral_id,
        parent_id=row.parent_id,
        type=row.type,
        status=row.status,
        workloads=row.workloads,
        customer_name=customer_name(row) if shown else "",
        customer_country=row.customer_country if shown else "",
        seats=row.seats if shown else None,
        current=current,
        due_at=row.sla_due_at if current else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def admin_item(row: ReferralRow) -> AdminReferralItem:
    return AdminReferralItem(
        id=row.workflow_id,
        referral_id=row.referral_id,
        parent_id=row.parent_id,
        type=row.type,
        status=row.status,
        workloads=row.workloads,
        customer_name=customer_name(row),
        customer_country=row.customer_country,
        seats=row.seats,
        current=False,
        due_at=row.sla_due_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        partner_id=row.partner_id,
        escalated=row.escalated,
        contact_overdue=row.contact_overdue,
        closed_at=row.closed_at,
    )


def _mentions(text: str, partners: set[str]) -> bool:
    return any(re.search(rf"(?<![\w]){re.escape(p)}(?![\w])", text) for p in partners)


def detail(loaded: Loaded, viewer: str, tz: str) -> ReferralDetail:
    """A partner's view of a referral it holds or held."""
    state = loaded.state
    open_a = state.current
    latest: Assignment | None = state.assignments[-1] if state.assignments else None
    mine = latest is not None and latest.partner == viewer
    current = open_a is not None and open_a.partner == viewer
    shown = open_a if current else None
    assignments = [a for a in state.assignments if a.partner == viewer]
    others = {a.partner for a in state.assignments} - {viewer}
    history = [
        e
        for e in state.history
        if not (e.actor.startswith("partner:") and e.actor != f"partner:{viewer}")
        and not _mentions(e.detail, others)
    ]
    if let_go(state, viewer):
        own = [e for e in history if e.actor == f"partner:{viewer}"]
        return _outcome_only(loaded, assignments, own)
    milestones = state.milestones if mine else Milestones()
    return ReferralDetail(
        **_common(loaded),
        current=current,
        waiting_for=state.waiting_for if mine else "",
        assignment=_assignment(shown) if shown else None,
        due=due(shown.due_at, tz) if shown and shown.outcome == Outcome.PENDING else None,
        contact_due=due(milestones.contact_due_at, tz)
        if shown and shown.outcome == Outcome.ACCEPTED
        else None,
        assignments=[_assignment(a) for a in assignments],
        milestones=_milestones(milestones),
        completion=_completion(state) if mine else None,
        history=[_history(e) for e in history],
    )


def admin_detail(loaded: Loaded, tz: str) -> AdminReferralDetail:
    """The operators' view: everything."""
    state = loaded.state
    shown = state.current
    return AdminReferralDetail(
        **_common(loaded),
        current=False,
        waiting_for=state.waiting_for,
        assignment=_assignment(shown) if shown else None,
        due=due(shown.due_at, tz) if shown and shown.outcome == Outcome.PENDING else None,
        contact_due=due(state.milestones.contact_due_at, tz)
        if shown and shown.outcome == Outcome.ACCEPTED
        else None,
        assignments=[_assignment(a) for a in state.assignments],
        milestones=_milestones(state.milestones),
        completion=_completion(state),
        history=[_history(e) for e in state.history],
        parts=[
            PartOut(id=p.workflow_id, workloads=p.workloads, status=p.status, partner=p.partner)
            for p in state.parts
        ],
        escalation=state.escalation,
        cancel_reason=state.cancel_reason,
    )


def _common(loaded: Loaded) -> dict[str, Any]:
    state = loaded.state
    referral = value_to_type(Referral, loaded.row.referral)
    return {
        "id": state.workflow_id,
        "referral_id": state.referral_id,
        "parent_id": state.parent_id,
        "type": state.type,
        "status": state.status,
        "workloads": state.workloads,
        "customer": CustomerOut(**referral_to_json(referral)["customer"]),
        "active_usage": {w: v for w, v in referral.active_usage.items() if w in state.workloads},
        "notes": referral.notes,
        "requested_by": RequesterOut(
            name=referral.requested_by.name,
            email=referral.requested_by.email,
            microsoft=referral.requested_by.microsoft,
        ),
        "account_team": referral.account_team,
        "source": loaded.source,
    }


def _outcome_only(
    loaded: Loaded, assignments: list[Assignment], own: list[HistoryEntry]
) -> ReferralDetail:
    state = loaded.state
    return ReferralDetail(
        id=state.workflow_id,
        referral_id=state.referral_id,
        parent_id=state.parent_id,
        type=state.type,
        status=state.status,
        workloads=state.workloads,
        access="outcome",
        customer=None,
        active_usage={},
        notes="",
        requested_by=None,
        account_team=[],
        current=False,
        waiting_for="",
        assignment=None,
        due=None,
        contact_due=None,
        assignments=[_assignment(a) for a in assignments],
        milestones=_milestones(Milestones()),
        completion=None,
        history=[_history(e) for e in own],
        source=loaded.source,
    )


def _assignment(a: Assignment) -> AssignmentOut:
    return AssignmentOut(
        seq=a.seq,
        partner=a.partner,
        partner_name=a.partner_name,
        outcome=a.outcome,
        assigned_at=a.assigned_at,
        due_at=a.due_at,
        decided_at=a.decided_at,
        reason=a.reason,
        note=a.note,
    )


def _milestones(m: Milestones) -> MilestonesOut:
    return MilestonesOut(
        contacted_at=m.contacted_at,
        kickoff_at=m.kickoff_at,
        cpor_claimed_at=m.cpor_claimed_at,
        account_team_contacted_at=m.account_team_contacted_at,
        contact_due_at=m.contact_due_at,
        contact_overdue=m.contact_overdue,
    )


def _completion(state: ReferralState) -> CompletionOut | None:
    c = state.completion
    if c is None:
        return None
    return CompletionOut(
        vas_sold=c.vas_sold, vas_value=c.vas_value, notes=c.notes, completed_at=c.completed_at
    )


def _history(e: HistoryEntry) -> HistoryOut:
    return HistoryOut(
        at=e.at, actor=e.actor, action=e.action, detail=e.detail, refused=e.refused, params=e.params
    )
