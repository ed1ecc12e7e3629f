"""What partners and operators may do to a referral, and the program's answer when not.

Pure functions over `ReferralState`: the workflow's update validators, its signal handler,
the CLI and the portal all show the same words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from domain.models import Outcome, PartnerAction, Reason, ReferralState, Status

PARTNER_ACTIONS: tuple[str, ...] = (
    "accept",
    "decline",
    "contacted",
    "kickoff",
    "cpor_claimed",
    "complete",
    "account_team_contacted",
)
OPERATOR_ACTIONS: tuple[str, ...] = ("retry", "cancel")


class Code:
    """Refusal codes (the portal's `error` field, the ApplicationError type)."""

    NOT_ASSIGNED = "not_assigned"  # not this partner's referral (portal: 404)
    CLOSED = "closed"
    INVALID_STATE = "invalid_state"
    REASON_REFUSED = "reason_refused"
    NOTE_REQUIRED = "note_required"
    UNKNOWN_REASON = "unknown_reason"
    UNKNOWN_ACTION = "unknown_action"
    INVALID_VALUE = "invalid_value"


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


# The program's answers to decline reasons it does not accept (our own words).
ANSWER_FASTTRACK_CENTER = (
    "declining because the customer prefers the FastTrack Center is not accepted: "
    "as a FastTrack partner you represent Microsoft FastTrack to this customer"
)
ANSWER_ACCOUNT_TEAM = (
    "declining because the account team does not want a partner is not accepted: "
    "partners deliver the same quality of service as the FastTrack Center"
)
ANSWER_CAPACITY_AGAIN = (
    "partner_at_capacity was already granted to this partner once; to manage capacity, "
    "pause new referrals for a while instead (starter.py partners pause MPN_ID --until DATE)"
)

ALWAYS_REFUSED: dict[str, str] = {
    Reason.PREFERS_FASTTRACK_CENTER: ANSWER_FASTTRACK_CENTER,
    Reason.ACCOUNT_TEAM_DECLINES_PARTNER: ANSWER_ACCOUNT_TEAM,
}


def decline_refusal(reason: str, note: str, capacity_declines_used: int) -> Refusal | None:
    """The decline policy alone: is this reason acceptable?"""
    if reason not in Reason.ALL:
        return Refusal(
            Code.UNKNOWN_REASON,
            f"unknown decline reason {reason!r} (allowed: {', '.join(Reason.ALL)})",
        )
    if reason in ALWAYS_REFUSED:
        return Refusal(Code.REASON_REFUSED, ALWAYS_REFUSED[reason])
    if reason == Reason.PARTNER_AT_CAPACITY and capacity_declines_used >= 1:
        return Refusal(Code.REASON_REFUSED, ANSWER_CAPACITY_AGAIN)
    if reason == Reason.OTHER and not note.strip():
        return Refusal(Code.NOTE_REQUIRED, "a decline with reason 'other' needs a note")
    return None


def check_partner_action(
    state: ReferralState, action: PartnerAction, capacity_declines_used: int = 0
) -> Refusal | None:
    """None when `action` may be applied to `state`; otherwise why not."""
    rid = state.workflow_id
    if action.action not in PARTNER_ACTIONS:
        return Refusal(
            Code.UNKNOWN_ACTION,
            f"unknown action {action.action!r} (allowed: {', '.join(PARTNER_ACTIONS)})",
        )
    current = state.current
    if current is None or current.partner != action.partner:
        if state.status in Status.CLOSED and any(
            a.partner == action.partner for a in state.assignments
        ):
            return Refusal(Code.CLOSED, f"referral {rid} is already {state.status}")
        return Refusal(Code.NOT_ASSIGNED, f"referral {rid} is not assigned to {action.partner}")
    if action.action == "accept":
        if current.outcome != Outcome.PENDING:
            return Refusal(Code.INVALID_STATE, f"referral {rid} was already accepted")
        return None
    if action.action == "decline":
        return decline_refusal(action.reason, action.note, capacity_declines_used)
    if current.outcome != Outcome.ACCEPTED:
        return Refusal(
            Code.INVALID_STATE,
            f"referral {rid} must be accepted before '{action.action}' can be recorded",
        )
    m = state.milestones
    already = {
        "contacted": m.contacted_at,
        "kickoff": m.kickoff_at,
        "cpor_claimed": m.cpor_claimed_at,
        "account_team_contacted": m.account_team_contacted_at,
    }
    if action.action in already and already[action.action] is not None:
        return Refusal(Code.INVALID_STATE, f"'{action.action}' is already recorded on {rid}")
    if action.action == "complete":
        return completion_refusal(action)
    return None


def completion_refusal(action: PartnerAction) -> Refusal | None:
    if action.vas_sold is None:
        return Refusal(Code.INVALID_VALUE, "say whether value-added services were sold")
    value = action.vas_value
    if value is not None and (not math.isfinite(value) or value < 0):
        return Refusal(Code.INVALID_VALUE, "the value-added services value must be 0 or more")
    if not action.vas_sold and value:
        return Refusal(
            Code.INVALID_VALUE, "a value for value-added services was given but none were sold"
        )
    return None


def check_operator_action(state: ReferralState, action: str, reason: str) -> Refusal | None:
    rid = state.workflow_id
    if action not in OPERATOR_ACTIONS:
        return Refusal(Code.UNKNOWN_ACTION, f"unknown operator action {action!r}")
    if state.status in Status.CLOSED:
        return Refusal(Code.CLOSED, f"referral {rid} is already {state.status}")
    if action == "retry" and state.status != Status.ESCALATED:
        return Refusal(
            Code.INVALID_STATE,
            f"referral {rid} is {state.status}; only escalated referrals can be retried",
        )
    if action == "cancel" and not reason.strip():
        return Refusal(Code.INVALID_VALUE, "a cancellation needs a reason")
    return None
