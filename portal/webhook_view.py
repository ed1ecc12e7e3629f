"""A webhook event's `referral`: the referral exactly as `GET /api/referrals/{id}` shows it
to that partner (the same view function, so the same rule on what a partner may see)."""

from __future__ import annotations

from typing import Any

from db.readmodel import ReferralRow
from domain.jsonable import jsonable
from domain.models import Outcome, Snapshot
from domain.validation import referral_to_json
from portal.gateway import Loaded
from portal.views import detail


def partner_view(
    snapshot: Snapshot, partner: str, timezone: str, external_ref: str | None
) -> dict[str, Any]:
    state = snapshot.state
    current = state.current
    at = state.history[-1].at if state.history else state.created_at
    row = ReferralRow(
        workflow_id=state.workflow_id,
        referral_id=state.referral_id,
        parent_id=state.parent_id,
        type=state.type,
        status=state.status,
        partner_id=current.partner if current else None,
        customer_country=state.customer_country,
        seats=state.seats,
        workloads=list(state.workloads),
        sla_due_at=current.due_at if current and current.outcome == Outcome.PENDING else None,
        escalated=False,
        contact_overdue=state.milestones.contact_overdue,
        created_at=state.created_at,
        updated_at=at,
        closed_at=None,
        state=jsonable(state),
        referral=referral_to_json(snapshot.referral),
    )
    shown = detail(Loaded(row, state, "snapshot"), partner, timezone)
    shown = shown.model_copy(update={"external_ref": external_ref})
    return shown.model_dump(mode="json")
