"""The partner actions as page forms: which are allowed now, their fields, the program's
guidance on each decline reason, and reading a submitted form into a `PartnerAction`."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field

from domain.models import Outcome, PartnerAction, Reason, ReferralState
from domain.policy import check_partner_action

MAX_NOTE = 2000
MAX_NOTES = 10000
# The characters the API's TEXT_PATTERN rejects in notes.
FORBIDDEN = frozenset(chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32), 127])

REASON_GUIDANCE: dict[str, tuple[str, str]] = {
    Reason.WORKING_WITH_OTHER_PARTNER: (
        "The customer already works with another partner",
        "Granted: the referral goes to another partner.",
    ),
    Reason.CUSTOMER_UNRESPONSIVE: (
        "The customer does not respond",
        "Granted after you tried to reach the customer, with the account team in copy.",
    ),
    Reason.LEGAL_OR_POLITICAL: (
        "Legal or political obstacles",
        "Granted: say in the note what stands in the way.",
    ),
    Reason.CUSTOMER_TYPE_NOT_SUPPORTED: (
        "We do not serve this customer type (Government, Education, …)",
        "Granted; also keep the segments in your Referral Profile current.",
    ),
    Reason.LANGUAGE_NOT_SUPPORTED: (
        "We do not serve the customer's language",
        "Granted; also keep the languages in your Referral Profile current.",
    ),
    Reason.PARTNER_AT_CAPACITY: (
        "We are at capacity",
        "Granted once. After that, pause referrals in your Referral Profile instead.",
    ),
    Reason.PREFERS_FASTTRACK_CENTER: (
        "The customer prefers the FastTrack Center",
        "Not accepted by the program: partners deliver FastTrack on its behalf.",
    ),
    Reason.ACCOUNT_TEAM_DECLINES_PARTNER: (
        "The account team does not want a partner",
        "Not accepted by the program: partners deliver at the same level.",
    ),
    Reason.OTHER: ("Other", "Explain in the note (required)."),
}

ACTION_LABELS = {
    "accept": "Accept",
    "decline": "Decline",
    "contacted": "Record customer contact",
    "kickoff": "Record kick-off",
    "cpor_claimed": "Record CPOR claim",
    "complete": "Mark engagement complete",
    "account_team_contacted": "Record account team contact",
}


@dataclass
class ActionForm:
    """One action's form on the referral page: its nonce (the update id), values, errors."""

    action: str
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""

    @property
    def label(self) -> str:
        return ACTION_LABELS[self.action]


def allowed_actions(state: ReferralState, partner: str, capacity_used: int) -> list[str]:
    """The actions the policy would accept now (decline: with a plain reason)."""
    current = state.current
    if current is None or current.partner != partner:
        return []
    allowed = []
    for action in ACTION_LABELS:
        probe = PartnerAction(
            partner=partner,
            action=action,
            reason=Reason.CUSTOMER_UNRESPONSIVE if action == "decline" else "",
            vas_sold=False if action == "complete" else None,
        )
        if check_partner_action(state, probe, capacity_used) is None:
            allowed.append(action)
    if current.outcome in (Outcome.PENDING, Outcome.ACCEPTED) and "decline" not in allowed:
        allowed.append("decline")  # still offered: the answer explains the refusal
    return allowed


def _text(form: dict[str, str], name: str, limit: int, errors: dict[str, str]) -> str:
    value = form.get(name, "")
    if len(value) > limit:
        errors[name] = f"Keep it under {limit} characters."
    elif any(ch in value for ch in FORBIDDEN):
        errors[name] = "Remove the control characters."
    return value


def read_action(
    action: str, partner: str, form: dict[str, str]
) -> tuple[PartnerAction, ActionForm]:
    """The submitted form as an action, and the form to show again (with errors by field)."""
    shown = ActionForm(action, nonce=form.get("nonce", "")[:64] or secrets.token_urlsafe(16))
    shown.values = {k: v for k, v in form.items() if k not in ("csrf", "nonce")}
    errors = shown.errors
    note = _text(form, "note", MAX_NOTE, errors)
    reason = ""
    vas_sold: bool | None = None
    vas_value: float | None = None
    notes = ""
    if action == "decline":
        reason = form.get("reason", "")
        if reason not in Reason.ALL:
            errors["reason"] = "Choose a reason."
        elif reason == Reason.OTHER and not note.strip():
            errors["note"] = "A decline with reason “Other” needs a note."
    if action == "complete":
        sold = form.get("vas_sold", "")
        if sold not in ("yes", "no"):
            errors["vas_sold"] = "Say whether value-added services were sold."
        vas_sold = sold == "yes"
        raw = form.get("vas_value", "").strip().replace(",", "")
        if raw:
            try:
                vas_value = float(raw)
            except ValueError:
                errors["vas_value"] = "Enter an amount, e.g. 12000."
            else:
                if not math.isfinite(vas_value) or vas_value < 0:
                    errors["vas_value"] = "Enter an amount of zero or more."
        notes = _text(form, "notes", MAX_NOTES, errors)
    return (
        PartnerAction(
            partner=partner,
            action=action,
            reason=reason,
            note=note,
            vas_sold=vas_sold,
            vas_value=vas_value,
            notes=notes,
        ),
        shown,
    )
