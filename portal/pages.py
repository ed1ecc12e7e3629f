"""The pages behind the accept / decline links in notification emails.

GET shows the referral and a confirmation form and changes nothing (mail scanners prefetch
links). POST performs the action once: the link's nonce is spent before the update is sent,
and it is the update id as well, so a double submit is applied once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from domain.links import LinkClaims, LinkError, verify_link
from domain.models import Outcome, PartnerAction, Reason
from domain.policy import ALWAYS_REFUSED, Code, Refusal, check_partner_action, program_answer
from domain.text import Text, trp
from domain.visibility import latest_outcome, sees_customer
from mail import display, formats
from mail.i18n import _, translate
from portal.auth import Portal, PortalDep
from portal.gateway import UNAVAILABLE, Loaded, load, run_update
from portal.render import render
from portal.schemas import ApiError
from portal.session import service_unavailable
from portal.views import timezone_of

log = logging.getLogger("fasttrack.portal")

router = APIRouter(include_in_schema=False)

DECLINE_REASONS: tuple[str, ...] = tuple(r for r in Reason.ALL if r not in ALWAYS_REFUSED)
REASON_LABELS: dict[str, Text] = {
    Reason.WORKING_WITH_OTHER_PARTNER: trp(
        "decline reason label", "The customer already works with another partner"
    ),
    Reason.CUSTOMER_UNRESPONSIVE: trp("decline reason label", "The customer does not respond"),
    Reason.LEGAL_OR_POLITICAL: trp("decline reason label", "Legal or political obstacles"),
    Reason.CUSTOMER_TYPE_NOT_SUPPORTED: trp(
        "decline reason label", "We do not serve this customer type (e.g. Gov/Edu)"
    ),
    Reason.LANGUAGE_NOT_SUPPORTED: trp(
        "decline reason label", "We do not serve the customer's language"
    ),
    Reason.PARTNER_AT_CAPACITY: trp("decline reason label", "We are at capacity (granted once)"),
    Reason.OTHER: trp("decline reason label", "Other (please explain in the note)"),
}
# Refusals of the chosen decline reason: the form is shown again and the link stays usable.
RETRYABLE = (Code.REASON_REFUSED, Code.NOTE_REQUIRED, Code.UNKNOWN_REASON, Code.INVALID_VALUE)
MAX_FORM_BYTES = 16_384
MAX_NOTE = 2000
EPOCH = datetime.fromtimestamp(0, UTC)
Token = Annotated[str, Path(max_length=2048)]


# ------------------------------------------------------------------------ rendering


def page(
    request: Request,
    title: str,
    message: str = "",
    kind: str = "",
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    context.setdefault("facts", [])
    context.setdefault("form", None)
    context.setdefault("more", "")
    context.setdefault("portal_link", "")
    return render(request, "link", status_code, title=title, message=message, kind=kind, **context)


async def summary(portal: Portal, loaded: Loaded, partner: str) -> list[tuple[str, str]]:
    state = loaded.state
    kind = _("FastTrack Benefit referral") if state.type == "benefit" else _("Standard referral")
    rows = [
        (_("Referral"), state.workflow_id),
        (_("Type"), kind),
        (_("Workloads"), ", ".join(display.workload(w) for w in state.workloads)),
    ]
    if sees_customer(latest_outcome(state.assignments, partner)):
        rows.append((_("Country"), formats.country(state.customer_country)))
        rows.append((_("Seats"), formats.number(state.seats)))
    current = state.current
    due_at = current.due_at if current is not None and current.partner == partner else None
    if current is not None and current.outcome == Outcome.PENDING and due_at is not None:
        zone = await timezone_of(portal, partner)
        rows.append((_("Answer due"), formats.moment_long(due_at, zone)))
    return rows


def form_context(claims: LinkClaims, reason: str = "", text: str = "") -> dict[str, Any]:
    return {
        "form": claims.action,
        "reasons": [(r, translate(REASON_LABELS[r])) for r in DECLINE_REASONS],
        "reason": reason,
        "note": text,
        "max_note": MAX_NOTE,
    }


def link_problem(request: Request, secret: str, token: str, err: LinkError) -> HTMLResponse:
    """410 for an authentic link past its expiry, 400 for a malformed or forged one."""
    try:
        verify_link(secret, token, EPOCH)
    except LinkError:
        return page(request, _("This link is not valid"), link_problem_text(err), "bad", 400)
    return page(
        request,
        _("This link has expired"),
        link_problem_text(err),
        "bad",
        410,
        more=_(
            "The referral may have been reassigned. Sign in to the portal to see your referrals."
        ),
        portal_link="/referrals",
    )


LINK_PROBLEMS: dict[str, Text] = {
    "this link is malformed": trp("link", "This link is malformed."),
    "this link is not valid": trp("link", "This link is not valid."),
    "this link has expired; open the referral in the portal instead": trp(
        "link", "This link has expired; open the referral in the portal instead."
    ),
}


def link_problem_text(err: LinkError) -> str:
    """The link check's answer in the page's language when it is a known one."""
    known = LINK_PROBLEMS.get(str(err))
    return translate(known) if known is not None else str(err)


def unavailable_page(request: Request, link_spent: bool = False) -> HTMLResponse:
    if link_spent:
        text = _(
            "The referral service did not confirm your answer, and this link cannot be used "
            "again. Please check the referral in the portal."
        )
        return page(request, _("Please try again shortly"), text, "bad", 503)
    problem = service_unavailable()
    return page(request, problem.title, problem.message, "bad", problem.status_code)


def not_found_page(request: Request) -> HTMLResponse:
    return page(request, _("Referral not found"), _("This referral no longer exists."), "bad", 404)


# ------------------------------------------------------------------------ decisions


def _action(claims: LinkClaims, reason: str = "", text: str = "") -> PartnerAction:
    return PartnerAction(partner=claims.partner, action=claims.action, reason=reason, note=text)


async def _precheck(portal: Portal, loaded: Loaded, action: PartnerAction) -> Refusal | None:
    """The policy decision the workflow will make (it stays the authority)."""
    record = await portal.directory.get(action.partner)
    used = record.capacity_declines if record else 0
    return check_partner_action(loaded.state, action, used)


# The characters TEXT_PATTERN (the API's rule for notes) rejects.
_FORBIDDEN = frozenset(chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32), 127])


def _read_form(raw: bytes) -> tuple[str, str, str | None]:
    """(reason, note, problem) from an urlencoded form."""
    if len(raw) > MAX_FORM_BYTES:
        return "", "", _("The form is too large.")
    fields = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    reason = (fields.get("reason") or [""])[0]
    text = (fields.get("note") or [""])[0].replace("\r\n", "\n")
    if len(text) > MAX_NOTE:
        return reason, text, _("Keep it under %(limit)s characters.", limit=MAX_NOTE)
    if any(ch in text for ch in _FORBIDDEN):
        return reason, "", _("Remove the control characters.")
    if reason not in DECLINE_REASONS:
        return reason, text, _("Choose a reason.")
    if reason == Reason.OTHER and not text.strip():
        return reason, text, _("A decline with reason “Other” needs a note.")
    return reason, text, None


# ---------------------------------------------------------------------------- routes


@router.get("/act/{token}", response_class=HTMLResponse)
async def confirm(token: Token, request: Request, portal: PortalDep) -> HTMLResponse:
    """Shows what the link would do. Changes nothing."""
    secret = portal.settings.link_secret.get_secret_value()
    try:
        claims = verify_link(secret, token, datetime.now(UTC))
    except LinkError as err:
        return link_problem(request, secret, token, err)
    try:
        loaded = await load(portal, claims.workflow_id)
        if loaded is None:
            return not_found_page(request)
        probe = _action(claims, Reason.CUSTOMER_UNRESPONSIVE if claims.action == "decline" else "")
        refusal = await _precheck(portal, loaded, probe)
        info = await summary(portal, loaded, claims.partner)
    except UNAVAILABLE:
        return unavailable_page(request)
    title = _title(claims)
    if refusal is not None:
        return page(request, title, _refusal(refusal), "", 409, facts=info)
    return page(request, title, facts=info, **form_context(claims))


@router.post("/act/{token}", response_class=HTMLResponse)
async def perform(token: Token, request: Request, portal: PortalDep) -> HTMLResponse:
    """Performs the link's action, once."""
    secret = portal.settings.link_secret.get_secret_value()
    try:
        claims = verify_link(secret, token, datetime.now(UTC))
    except LinkError as err:
        return link_problem(request, secret, token, err)
    title = _title(claims)
    reason, text = "", ""
    if claims.action == "decline":
        reason, text, problem = _read_form(await request.body())
        if problem is not None:
            return await _again(request, portal, claims, title, problem, reason, text, 422)
    action = _action(claims, reason, text)
    try:
        loaded = await load(portal, claims.workflow_id)
        if loaded is None:
            return not_found_page(request)
        refusal = await _precheck(portal, loaded, action)
        if refusal is not None and refusal.code in RETRYABLE:
            problem = _refusal(refusal)
            return await _again(request, portal, claims, title, problem, reason, text, 409)
        # Past this point the link is spent either way (a state refusal never clears).
        if not await portal.tokens.use_link(claims.nonce, datetime.now(UTC)):
            return page(request, title, _("This link was already used."), "bad", 409)
        if refusal is not None:
            return page(request, title, _refusal(refusal), "bad", 409)
        status_code, body = await run_update(
            portal, loaded, claims.action, action, f"link:{claims.nonce}"
        )
    except ApiError:  # the link is spent but Temporal did not confirm the update
        return unavailable_page(request, link_spent=True)
    except UNAVAILABLE:
        return unavailable_page(request)
    if status_code != 200:
        answer = program_answer(str(body.get("message", "")))
        text = translate(answer) if answer else str(body.get("message", "")) or _("Refused.")
        return page(request, title, text, "bad", status_code)
    if claims.action == "accept":
        done = _("Accepted. Please contact the customer, with the account team, within two days.")
    else:
        done = _("Declined. The referral will be offered to another partner. Thank you.")
    return page(request, title, done, "ok", portal_link=f"/referrals/{quote(claims.workflow_id)}")


def _title(claims: LinkClaims) -> str:
    if claims.action == "accept":
        return _("Accept referral %(id)s", id=claims.workflow_id)
    return _("Decline referral %(id)s", id=claims.workflow_id)


def _refusal(refusal: Refusal) -> str:
    return translate(refusal.text) if refusal.text is not None else refusal.message


async def _again(
    request: Request,
    portal: Portal,
    claims: LinkClaims,
    title: str,
    problem: str,
    reason: str,
    text: str,
    status_code: int,
) -> HTMLResponse:
    """The form again with the problem on top (a decline can be retried with another reason)."""
    try:
        loaded = await load(portal, claims.workflow_id)
        info = await summary(portal, loaded, claims.partner) if loaded else []
        still_assigned = loaded is not None and (
            loaded.state.current is not None and loaded.state.current.partner == claims.partner
        )
    except UNAVAILABLE:
        return unavailable_page(request)
    again = (
        form_context(claims, reason, text) if claims.action == "decline" and still_assigned else {}
    )
    return page(request, title, problem, "bad", status_code, facts=info, **again)
