"""What partners and operators may do to a referral, and the program's answer when not.

Pure functions over `ReferralState`: the workflow's update validators, its signal handler,
the CLI and the portal all show the same words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from domain.models import Outcome, PartnerAction, Reason, ReferralState, Status
from domain.text import Text, tr

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
    message: str  # English: the CLI, the JSON API and the workflow's history
    text: Text | None = None  # the same message with its gettext id, for pages and emails


def refuse(code: str, text: Text) -> Refusal:
    return Refusal(code, str(text), text)


# The program's answers to decline reasons it does not accept (our own words).
ANSWER_FASTTRACK_CENTER_TEXT = tr(
    "declining because the customer prefers the FastTrack Center is not accepted: "
    "as a FastTrack partner you represent Microsoft FastTrack to this customer"
)
ANSWER_ACCOUNT_TEAM_TEXT = tr(
    "declining because the account team does not want a partner is not accepted: "
    "partners deliver the same quality of service as the FastTrack Center"
)
ANSWER_CAPACITY_AGAIN_TEXT = tr(
    "partner_at_capacity was already granted to this partner once; to manage capacity, "
    "pause new referrals for a while instead, on your Referral Profile page"
)
NOTE_REQUIRED_TEXT = tr("a decline with reason 'other' needs a note")
ANSWER_FASTTRACK_CENTER = str(ANSWER_FASTTRACK_CENTER_TEXT)
ANSWER_ACCOUNT_TEAM = str(ANSWER_ACCOUNT_TEAM_TEXT)
ANSWER_CAPACITY_AGAIN = str(ANSWER_CAPACITY_AGAIN_TEXT)
_PROGRAM_ANSWERS: dict[str, Text] = {
    str(t): t
    for t in (
        ANSWER_FASTTRACK_CENTER_TEXT,
        ANSWER_ACCOUNT_TEAM_TEXT,
        ANSWER_CAPACITY_AGAIN_TEXT,
        NOTE_REQUIRED_TEXT,
    )
}


def program_answer(message: str) -> Text | None:
    """The translatable form of a refusal message that carries no values (the program's
    answers travel through the workflow as English text)."""
    return _PROGRAM_ANSWERS.get(message)


ALWAYS_REFUSED: dict[str, str] = {
    Reason.PREFERS_FASTTRACK_CENTER: ANSWER_FASTTRACK_CENTER,
    Reason.ACCOUNT_TEAM_DECLINES_PARTNER: ANSWER_ACCOUNT_TEAM,
}


def decline_refusal(reason: str, note: str, capacity_declines_used: int) -> Refusal | None:
    """The decline policy alone: is this reason acceptable?"""
    if reason not in Reason.ALL:
        return refuse(
            Code.UNKNOWN_REASON,
            tr(
                "unknown decline reason %(reason)s (allowed: %(allowed)s)",
                reason=repr(reason),
                allowed=", ".join(Reason.ALL),
            ),
        )
    if reason in ALWAYS_REFUSED:
        return refuse(Code.REASON_REFUSED, _PROGRAM_ANSWERS[ALWAYS_REFUSED[reason]])
    if reason == Reason.PARTNER_AT_CAPACITY and capacity_declines_used >= 1:
        return refuse(Code.REASON_REFUSED, ANSWER_CAPACITY_AGAIN_TEXT)
    if reason == Reason.OTHER and not note.strip():
        return refuse(Code.NOTE_REQUIRED, NOTE_REQUIRED_TEXT)
    return None


def check_partner_action(
    state: ReferralState, action: PartnerAction, capacity_declines_used: int = 0
) -> Refusal | None:
    """None when `action` may be applied to `state`; otherwise why not."""
    rid = state.workflow_id
    if action.action not in PARTNER_ACTIONS:
        return refuse(
            Code.UNKNOWN_ACTION,
            tr(
                "unknown action %(action)s (allowed: %(allowed)s)",
                action=repr(action.action),
                allowed=", ".join(PARTNER_ACTIONS),
            ),
        )
    current = state.current
    if current is None or current.partner != action.partner:
        if state.status in Status.CLOSED and any(
            a.partner == action.partner for a in state.assignments
        ):
            return refuse(Code.CLOSED, _already(rid, state.status))
        return refuse(
            Code.NOT_ASSIGNED,
            tr("referral %(rid)s is not assigned to %(partner)s", rid=rid, partner=action.partner),
        )
    if action.action == "accept":
        if current.outcome != Outcome.PENDING:
            return refuse(Code.INVALID_STATE, tr("referral %(rid)s was already accepted", rid=rid))
        return None
    if action.action == "decline":
        return decline_refusal(action.reason, action.note, capacity_declines_used)
    if current.outcome != Outcome.ACCEPTED:
        return refuse(
            Code.INVALID_STATE,
            tr(
                "referral %(rid)s must be accepted before '%(action)s' can be recorded",
                rid=rid,
                action=action.action,
            ),
        )
    m = state.milestones
    already = {
        "contacted": m.contacted_at,
        "kickoff": m.kickoff_at,
        "cpor_claimed": m.cpor_claimed_at,
        "account_team_contacted": m.account_team_contacted_at,
    }
    if action.action in already and already[action.action] is not None:
        return refuse(
            Code.INVALID_STATE,
            tr("'%(action)s' is already recorded on %(rid)s", action=action.action, rid=rid),
        )
    if action.action == "complete":
        return completion_refusal(action)
    return None


def completion_refusal(action: PartnerAction) -> Refusal | None:
    if action.vas_sold is None:
        return refuse(Code.INVALID_VALUE, tr("say whether value-added services were sold"))
    value = action.vas_value
    if value is not None and (not math.isfinite(value) or value < 0):
        return refuse(Code.INVALID_VALUE, tr("the value-added services value must be 0 or more"))
    if not action.vas_sold and value:
        return refuse(
            Code.INVALID_VALUE,
            tr("a value for value-added services was given but none were sold"),
        )
    return None


def check_operator_action(state: ReferralState, action: str, reason: str) -> Refusal | None:
    rid = state.workflow_id
    if action not in OPERATOR_ACTIONS:
        return refuse(
            Code.UNKNOWN_ACTION, tr("unknown operator action %(action)s", action=repr(action))
        )
    if state.status in Status.CLOSED:
        return refuse(Code.CLOSED, _already(rid, state.status))
    if action == "retry" and state.status != Status.ESCALATED:
        return refuse(
            Code.INVALID_STATE,
            tr(
                "referral %(rid)s is %(status)s; only escalated referrals can be retried",
                rid=rid,
                status=state.status,
            ),
        )
    problem = reason_problem(action, reason)
    if problem is not None:
        return refuse(Code.INVALID_VALUE, problem)
    return None


def reason_problem(action: str, reason: str) -> Text | None:
    """What is wrong with an operator's reason for `action` (None: nothing): the page, the
    CLI and the admin API answer with this text before asking the workflow."""
    if action == "cancel" and not reason.strip():
        return tr("a cancellation needs a reason")
    return None


def _already(rid: str, status: str) -> Text:
    return tr("referral %(rid)s is already %(status)s", rid=rid, status=status)
