"""The only code that changes a referral's live state.

Each function changes the `ReferralState` it is given (or one of its assignments) in place and
writes the change to the state's history with who did it and why. No I/O and no clock: the
time comes in as an argument. The workflow decides *when* (timers, updates, signals); these
decide *what*.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from domain import acceptance
from domain.models import (
    Action,
    ActionResult,
    Assignment,
    Completion,
    HistoryEntry,
    MatchExplanation,
    Milestones,
    OperatorAction,
    Outcome,
    PartnerAction,
    PartnerContact,
    PartRef,
    ReferralInput,
    ReferralState,
    ReferralSummary,
    Status,
)

SYSTEM = "system"
SLA_TIMER = "sla-timer"


def new_state(inp: ReferralInput, workflow_id: str, at: datetime) -> ReferralState:
    """The state of a referral (or split part) just started."""
    r = inp.referral
    return ReferralState(
        referral_id=r.referral_id,
        workflow_id=workflow_id,
        parent_id=inp.parent_id,
        type=r.type,
        workloads=list(inp.workloads or r.workloads),
        status=Status.PENDING,
        customer_country=r.customer.country,
        seats=r.customer.seats,
        created_at=at,
    )


def summary(state: ReferralState, ended_at: datetime) -> ReferralSummary:
    """What the workflow returns when it ends."""
    return ReferralSummary(
        referral_id=state.referral_id,
        status=state.status,
        assignments=state.assignments,
        parts=state.parts,
        completion=state.completion,
        started_at=state.created_at,
        ended_at=ended_at,
        time_to_accept_seconds=time_to_accept(state),
    )


def log(
    state: ReferralState,
    at: datetime,
    actor: str,
    action: str,
    detail: str = "",
    refused: bool = False,
    **params: str,
) -> None:
    """Append to the history (a refused action is recorded too, marked `refused`); `params`
    are the values `detail` is worded with (`mail.display.history_words`)."""
    state.history.append(HistoryEntry(at, actor, action, detail, refused, params))


def waiting(state: ReferralState, text: str) -> None:
    """What the referral waits for now, in words ("" once it has ended)."""
    state.waiting_for = text


def assign(
    state: ReferralState, partner: PartnerContact, explanation: MatchExplanation, at: datetime
) -> Assignment:
    """A new pending assignment to `partner`; its SLA clock starts with the notification."""
    a = _assignment(state, partner, explanation, at)
    state.status = Status.PENDING
    state.escalation, state.escalated_by = "", None
    cpor = explanation.cpor == "chosen"
    why = "claiming partner of record" if cpor else "ranked first"
    detail = f"assigned to {partner.mpn_id} ({why})"
    log(state, at, SYSTEM, "assigned", detail, partner=partner.mpn_id, cpor="yes" if cpor else "")
    return a


def release(
    state: ReferralState, partner: PartnerContact, explanation: MatchExplanation, at: datetime
) -> None:
    """Cancelled while matching: the partner the match reserved is recorded as withdrawn, which
    gives its capacity back."""
    a = _assignment(state, partner, explanation, at)
    withdraw(a, at)
    detail = f"{partner.mpn_id} released: cancelled while matching"
    log(state, at, SYSTEM, "released", detail, partner=partner.mpn_id)


def withdraw(a: Assignment, at: datetime) -> None:
    """Withdrawn by operations; the reason is the outcome's code (`mail.display.reason`)."""
    a.outcome, a.decided_at, a.reason = Outcome.WITHDRAWN, at, Outcome.WITHDRAWN


def notified(a: Assignment, at: datetime, due_at: datetime) -> None:
    a.notified_at, a.due_at = at, due_at


def notification_delayed(state: ReferralState, a: Assignment, at: datetime, error: str) -> None:
    """The notification is not delivered yet: the answer clock has not started."""
    a.notified_at = a.due_at = None
    log(state, at, SYSTEM, "notification_delayed", error)


def contact_due(state: ReferralState, due_at: datetime) -> None:
    state.milestones.contact_due_at = due_at


def expire(state: ReferralState, a: Assignment, at: datetime) -> None:
    a.outcome, a.decided_at, a.reason = Outcome.EXPIRED, at, Outcome.EXPIRED
    detail = f"{a.partner} did not answer by the deadline"
    log(state, at, SLA_TIMER, "expired", detail, partner=a.partner)


def escalate(state: ReferralState, explanation: MatchExplanation, at: datetime) -> str:
    """Nobody eligible: escalated to operations; returns why, in words."""
    removed = ", ".join(f"{k} {v}" for k, v in explanation.removed.items() if v)
    found = f"{explanation.candidates} partners considered, removed by: {removed or 'nothing'}"
    why = f"{explanation.note or 'no eligible partner'} ({found})"
    state.status = Status.ESCALATED
    state.escalation, state.escalated_by = why, explanation
    log(state, at, SYSTEM, "escalated", why, False, **escalation_values(explanation))
    return why


def escalation_values(e: MatchExplanation) -> dict[str, str]:
    """The escalating match's values a page or an email words its why with, in its reader's
    language (`escalation_match` reads them back)."""
    return {"candidates": str(e.candidates), "missing": ",".join(e.missing), "match_note": e.note}


def escalation_match(values: Mapping[str, str]) -> MatchExplanation | None:
    """The match `escalation_values` recorded; None when they are not there (an older record)."""
    if "match_note" not in values or not values.get("candidates", "").isdigit():
        return None
    missing = [w for w in values.get("missing", "").split(",") if w]
    return MatchExplanation(int(values["candidates"]), missing=missing, note=values["match_note"])


def contact_overdue(state: ReferralState, partner: str, at: datetime) -> None:
    state.milestones.contact_overdue = True
    detail = f"{partner} has not recorded contact"
    log(state, at, SLA_TIMER, "contact_overdue", detail, partner=partner)


def apply_partner_action(
    state: ReferralState, name: Action, action: PartnerAction, at: datetime
) -> ActionResult:
    """Apply an action the policy allowed (`domain.policy.check_partner_action`)."""
    a = state.current
    assert a is not None
    actor = f"partner:{action.partner}"
    m = state.milestones
    if name == Action.ACCEPT:
        a.outcome, a.decided_at, a.accepted_at = Outcome.ACCEPTED, at, at
        state.status = Status.ACTIVE
        log(state, at, actor, "accepted")
    elif name == Action.DECLINE:
        a.outcome, a.decided_at = Outcome.DECLINED, at
        a.reason, a.note = action.reason, action.note
        state.status = Status.PENDING
        state.milestones = Milestones()
        detail = action.reason + (f": {action.note}" if action.note else "")
        log(state, at, actor, "declined", detail, reason=action.reason, note=action.note)
    elif name == Action.CONTACTED:
        m.contacted_at, m.contact_overdue = at, False
        log(state, at, actor, "contacted", action.note, note=action.note)
    elif name == Action.KICKOFF:
        m.kickoff_at = at
        log(state, at, actor, "kickoff", action.note, note=action.note)
    elif name == Action.CPOR_CLAIMED:
        m.cpor_claimed_at = at
        log(state, at, actor, "cpor_claimed", action.note, note=action.note)
    elif name == Action.ACCOUNT_TEAM_CONTACTED:
        m.account_team_contacted_at = at
        before = "before" if m.kickoff_at is None else "after"
        log(state, at, actor, "account_team_contacted", f"{before} the kick-off", when=before)
    elif name == Action.COMPLETE:
        a.outcome, a.decided_at = Outcome.COMPLETED, at
        state.completion = Completion(
            vas_sold=bool(action.vas_sold),
            vas_value=action.vas_value,
            notes=action.notes,
            completed_at=at,
        )
        state.status = Status.COMPLETED
        sold = "yes" if action.vas_sold else "no"
        log(state, at, actor, "completed", "VAS sold" if action.vas_sold else "no VAS", vas=sold)
    return ActionResult(state.workflow_id, state.status, f"{name} recorded")


def apply_operator_action(state: ReferralState, op: OperatorAction, at: datetime) -> ActionResult:
    """Apply an operator action the policy allowed (`domain.policy.check_operator_action`)."""
    if op.action == Action.RETRY:
        state.status = Status.PENDING
        state.escalation, state.escalated_by = "", None
        log(state, at, op.operator, "retry", op.reason or "matching again", note=op.reason)
    else:
        a = state.current
        if a is not None:
            withdraw(a, at)
        state.status = Status.CANCELLED
        state.cancel_reason = op.reason
        log(state, at, op.operator, "cancelled", op.reason, note=op.reason)
    return ActionResult(state.workflow_id, state.status, f"{op.action} recorded")


def split(state: ReferralState, plan: list[list[str]], at: datetime) -> None:
    """No single partner covers every workload: the referral is divided into parts."""
    state.status = Status.SPLIT
    parts = "; ".join("+".join(part) for part in plan)
    log(state, at, SYSTEM, "split", f"no single partner covers every workload: {parts}")


def add_part(state: ReferralState, part: PartRef) -> None:
    state.parts.append(part)


def part_changed(state: ReferralState, part: PartRef, at: datetime) -> bool:
    """A part reported a change; stale or late reports are ignored. True when applied."""
    for p in state.parts:
        if p.workflow_id == part.workflow_id and part_report_applies(p, part):
            p.status, p.partner, p.seq = part.status, part.partner, part.seq
            log(state, at, SYSTEM, "part_changed", f"{p.workflow_id} is {p.status}")
            return True
    return False


def part_report_applies(known: PartRef, report: PartRef) -> bool:
    """A part's status only moves forward: a closed part never reopens, and a report older
    than the one already applied (reports can arrive out of order) is stale."""
    return known.status not in Status.CLOSED and report.seq > known.seq


def part_ended(state: ReferralState, part_id: str, result: ReferralSummary, at: datetime) -> None:
    """A part's workflow returned: its result is the final word on it, whatever its signals
    said or failed to say."""
    partner = result.assignments[-1].partner if result.assignments else ""
    for p in state.parts:
        if p.workflow_id == part_id and (p.status, p.partner) != (result.status, partner):
            p.status, p.partner = result.status, partner
            log(state, at, SYSTEM, "part_changed", f"{p.workflow_id} is {p.status} (its result)")


def part_lost(state: ReferralState, part_id: str, why: str, at: datetime) -> None:
    """A part's workflow ended without a result (terminated, timed out, failed): it serves
    nothing any more, so it counts as cancelled and no longer holds its parent open."""
    for p in state.parts:
        if p.workflow_id == part_id and p.status not in Status.CLOSED:
            p.status = Status.CANCELLED
            log(state, at, SYSTEM, "part_failed", f"{part_id} ended without a result: {why}")


def parts_settled(state: ReferralState) -> bool:
    """Every part completed or cancelled: an escalated part keeps its parent open."""
    return bool(state.parts) and all(p.status in Status.CLOSED for p in state.parts)


def close_split(state: ReferralState, at: datetime) -> None:
    """The parent of settled parts: completed when any part was, else cancelled."""
    if any(p.status == Status.COMPLETED for p in state.parts):
        state.status = Status.COMPLETED
        log(state, at, SYSTEM, "completed", "every part is completed or cancelled")
    else:
        state.status = Status.CANCELLED
        log(state, at, SYSTEM, "cancelled", "every part was cancelled")


def time_to_accept(state: ReferralState) -> float | None:
    """Seconds to the first accept (`domain.acceptance`), None when nobody accepted."""
    first = next((a for a in state.assignments if a.accepted_at is not None), None)
    if first is None:
        return None
    took = acceptance.time_to_accept(first.assigned_at, first.notified_at, first.accepted_at)
    return None if took is None else took.total_seconds()


def _assignment(
    state: ReferralState, partner: PartnerContact, explanation: MatchExplanation, at: datetime
) -> Assignment:
    a = Assignment(
        seq=len(state.assignments) + 1,
        partner=partner.mpn_id,
        partner_name=partner.name,
        outcome=Outcome.PENDING,
        assigned_at=at,
        explanation=explanation,
    )
    state.assignments.append(a)
    return a
