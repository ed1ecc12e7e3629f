"""The partner actions as page forms: which are allowed now, their fields, the program's
guidance on each decline reason, and reading a submitted form into a `PartnerAction`."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field

from babel.numbers import NumberFormatError, parse_decimal

from domain.models import Outcome, PartnerAction, Reason, ReferralState
from domain.policy import check_partner_action
from domain.text import Text, trp
from mail.i18n import _, babel_id, current, translate

MAX_NOTE = 2000
MAX_NOTES = 10000
# The characters the API's TEXT_PATTERN rejects in notes.
FORBIDDEN = frozenset(chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32), 127])

REASON_GUIDANCE: dict[str, tuple[Text, Text]] = {
    Reason.WORKING_WITH_OTHER_PARTNER: (
        trp("decline reason label", "The customer already works with another partner"),
        trp("decline reason label", "Granted: the referral goes to another partner."),
    ),
    Reason.CUSTOMER_UNRESPONSIVE: (
        trp("decline reason label", "The customer does not respond"),
        trp(
            "decline reason label",
            "Granted after you tried to reach the customer, with the account team in copy.",
        ),
    ),
    Reason.LEGAL_OR_POLITICAL: (
        trp("decline reason label", "Legal or political obstacles"),
        trp("decline reason label", "Granted: say in the note what stands in the way."),
    ),
    Reason.CUSTOMER_TYPE_NOT_SUPPORTED: (
        trp(
            "decline reason label", "We do not serve this customer type (Government, Education, …)"
        ),
        trp(
            "decline reason label",
            "Granted; also keep the segments in your Referral Profile current.",
        ),
    ),
    Reason.LANGUAGE_NOT_SUPPORTED: (
        trp("decline reason label", "We do not serve the customer's language"),
        trp(
            "decline reason label",
            "Granted; also keep the languages in your Referral Profile current.",
        ),
    ),
    Reason.PARTNER_AT_CAPACITY: (
        trp("decline reason label", "We are at capacity"),
        trp(
            "decline reason label",
            "Granted once. After that, pause referrals in your Referral Profile instead.",
        ),
    ),
    Reason.PREFERS_FASTTRACK_CENTER: (
        trp("decline reason label", "The customer prefers the FastTrack Center"),
        trp(
            "decline reason label",
            "Not accepted by the program: partners deliver FastTrack on its behalf.",
        ),
    ),
    Reason.ACCOUNT_TEAM_DECLINES_PARTNER: (
        trp("decline reason label", "The account team does not want a partner"),
        trp(
            "decline reason label",
            "Not accepted by the program: partners deliver at the same level.",
        ),
    ),
    Reason.OTHER: (
        trp("decline reason label", "Other"),
        trp("decline reason label", "Explain in the note (required)."),
    ),
}

ACTION_LABELS: dict[str, Text] = {
    "accept": trp("action", "Accept"),
    "decline": trp("action", "Decline"),
    "contacted": trp("action", "Record customer contact"),
    "kickoff": trp("action", "Record kick-off"),
    "cpor_claimed": trp("action", "Record CPOR claim"),
    "complete": trp("action", "Mark engagement complete"),
    "account_team_contacted": trp("action", "Record account team contact"),
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
        return translate(ACTION_LABELS[self.action])


def reason_guidance() -> dict[str, tuple[str, str]]:
    """Each decline reason's label and the program's guidance, in the page's language."""
    return {code: (translate(a), translate(b)) for code, (a, b) in REASON_GUIDANCE.items()}


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
        errors[name] = _("Keep it under %(limit)s characters.", limit=limit)
    elif any(ch in value for ch in FORBIDDEN):
        errors[name] = _("Remove the control characters.")
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
            errors["reason"] = _("Choose a reason.")
        elif reason == Reason.OTHER and not note.strip():
            errors["note"] = _("A decline with reason “Other” needs a note.")
    if action == "complete":
        sold = form.get("vas_sold", "")
        if sold not in ("yes", "no"):
            errors["vas_sold"] = _("Say whether value-added services were sold.")
        vas_sold = sold == "yes"
        raw = form.get("vas_value", "").strip()
        if raw:
            try:
                vas_value = float(parse_decimal(raw, locale=babel_id(current()), strict=True))
            except NumberFormatError:
                errors["vas_value"] = _("Enter an amount, e.g. 12000.")
            else:
                if not math.isfinite(vas_value) or vas_value < 0:
                    errors["vas_value"] = _("Enter an amount of zero or more.")
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
