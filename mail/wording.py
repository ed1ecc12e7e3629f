"""The emails' words said in Python: subjects and the notification's next steps, in the
language of the render in progress."""

from __future__ import annotations

from domain.models import EmailRequest
from mail import display, i18n
from mail.i18n import _
from settings import Settings


def subject(request: EmailRequest) -> str:
    ref = request.referral
    rid = ref.referral_id
    customer = ref.customer.name
    partner = request.partner.name if request.partner else _("the partner")
    v = {"rid": rid, "customer": customer, "partner": partner}
    kind = request.kind
    if kind == "notification" and ref.type == "benefit":
        return _("New FastTrack Benefit referral %(rid)s – %(customer)s", **v)
    if kind == "notification":
        return _("New Standard referral %(rid)s – %(customer)s", **v)
    if kind == "reminder":
        return _("Reminder: referral %(rid)s (%(customer)s) is waiting for your answer", **v)
    if kind == "expired":
        return _("Referral %(rid)s has been reassigned", **v)
    if kind == "decline_ack":
        return _("Decline recorded for referral %(rid)s", **v)
    if kind == "decline_refused":
        return _("Decline not accepted for referral %(rid)s (%(customer)s)", **v)
    if kind == "contact_reminder":
        return _("Action needed: record customer contact for referral %(rid)s", **v)
    if kind == "team_assigned":
        return _("Referral %(rid)s (%(customer)s) assigned to %(partner)s", **v)
    if kind == "team_accepted":
        return _("Referral %(rid)s (%(customer)s) accepted by %(partner)s", **v)
    if kind == "team_reassigned":
        return _("Referral %(rid)s (%(customer)s) is being reassigned", **v)
    if kind == "contact_overdue":
        return _("Customer contact overdue for referral %(rid)s (%(customer)s)", **v)
    if kind == "team_completed":
        return _("Referral %(rid)s (%(customer)s) completed by %(partner)s", **v)
    if kind == "escalation":
        return _("Escalation: referral %(rid)s (%(customer)s) needs operations", **v)
    failed = display.kind(request.detail.get("kind", "")) or _("message")
    return _("Email delivery failed: %(kind)s for referral %(rid)s", kind=failed, rid=rid)


def steps(request: EmailRequest, settings: Settings) -> list[str]:
    """What the partner does after accepting (the notification's numbered list)."""
    ref = request.referral
    days = settings.sla_business_days
    if ref.account_team:
        steps = [
            i18n._n(
                "Contact the customer within %(n)s business day, copying the account team "
                "on every message.",
                "Contact the customer within %(n)s business days, copying the account team "
                "on every message.",
                days,
            )
        ]
    else:
        steps = [
            i18n._n(
                "Contact the customer within %(n)s business day.",
                "Contact the customer within %(n)s business days.",
                days,
            )
        ]
    if ref.requested_by.microsoft:
        steps.append(
            _("Talk to the requesting Microsoft contact before your first customer meeting.")
        )
    if ref.type == "benefit":
        steps.append(
            _(
                "At kick-off, walk the customer through what the FastTrack Benefit covers "
                "and what you add on top."
            )
        )
    else:
        steps.append(_("At kick-off, agree the scope and present the services you can offer."))
    steps.append(
        _(
            "Record contact, kick-off and your CPOR claim in the portal, and close the "
            "referral when the work is done."
        )
    )
    return steps
