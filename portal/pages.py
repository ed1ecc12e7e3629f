"""The pages behind the accept / decline links in notification emails.

GET shows the referral and a confirmation form and changes nothing (mail scanners prefetch
links). POST performs the action once: the link's nonce is spent before the update is sent,
and it is the update id as well, so a double submit is applied once.
"""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from domain.links import LinkClaims, LinkError, verify_link
from domain.models import Outcome, PartnerAction, Reason
from domain.policy import ALWAYS_REFUSED, Code, Refusal, check_partner_action
from portal.auth import Portal, PortalDep
from portal.routes import UNAVAILABLE, Loaded, due, load, run_update, timezone_of
from portal.schemas import ApiError

log = logging.getLogger("fasttrack.portal")

router = APIRouter(include_in_schema=False)

DECLINE_REASONS: tuple[str, ...] = tuple(r for r in Reason.ALL if r not in ALWAYS_REFUSED)
REASON_LABELS: dict[str, str] = {
    Reason.WORKING_WITH_OTHER_PARTNER: "The customer already works with another partner",
    Reason.CUSTOMER_UNRESPONSIVE: "The customer does not respond",
    Reason.LEGAL_OR_POLITICAL: "Legal or political obstacles",
    Reason.CUSTOMER_TYPE_NOT_SUPPORTED: "We do not serve this customer type (e.g. Gov/Edu)",
    Reason.LANGUAGE_NOT_SUPPORTED: "We do not serve the customer's language",
    Reason.PARTNER_AT_CAPACITY: "We are at capacity (granted once)",
    Reason.OTHER: "Other (please explain in the note)",
}
# Refusals of the chosen decline reason: the form is shown again and the link stays usable.
RETRYABLE = (Code.REASON_REFUSED, Code.NOTE_REQUIRED, Code.UNKNOWN_REASON, Code.INVALID_VALUE)
MAX_FORM_BYTES = 16_384
MAX_NOTE = 2000
EPOCH = datetime.fromtimestamp(0, UTC)
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}h1{font-size:1.4rem}dl{display:grid;grid-template-columns:9rem 1fr;gap:.3rem}"
    "dt{color:#666}.msg{padding:.8rem;border-radius:.3rem;background:#eef}.bad{background:#fee}"
    ".ok{background:#efe}button{font-size:1rem;padding:.5rem 1.2rem}"
    "textarea,select{width:100%;margin:.3rem 0 1rem}"
)
Token = Annotated[str, Path(max_length=2048)]


# ------------------------------------------------------------------------ rendering


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    doc = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        "<meta name='robots' content='noindex'>"
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{esc(title)}</h1>{body}</body></html>"
    )
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return HTMLResponse(doc, status_code=status_code, headers=headers)


def note(text: str, kind: str = "") -> str:
    return f"<p class='msg {kind}'>{esc(text)}</p>"


async def summary(portal: Portal, loaded: Loaded, partner: str) -> str:
    state = loaded.state
    kind = "FastTrack Benefit" if state.type == "benefit" else "Standard"
    rows = [
        ("Referral", state.workflow_id),
        ("Type", f"{kind} referral"),
        ("Workloads", ", ".join(state.workloads)),
        ("Country", state.customer_country),
        ("Seats", f"{state.seats:,}"),
    ]
    current = state.current
    if current is not None and current.partner == partner and current.outcome == Outcome.PENDING:
        when = due(current.due_at, await timezone_of(portal, partner))
        if when is not None:
            rows.append(("Answer due", f"{when['local']} ({when['utc']:%Y-%m-%d %H:%M} UTC)"))
    cells = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    return f"<dl>{cells}</dl>"


def form(claims: LinkClaims, reason: str = "", text: str = "") -> str:
    if claims.action == "accept":
        return (
            "<form method='post'><p>Accepting commits you to contact the customer, with the "
            "account team, within two business days.</p>"
            "<button type='submit'>Accept this referral</button></form>"
        )
    options = "".join(
        f"<option value='{esc(r)}'{' selected' if r == reason else ''}>"
        f"{esc(REASON_LABELS.get(r, r))}</option>"
        for r in DECLINE_REASONS
    )
    return (
        "<form method='post'><label for='reason'>Why do you decline?</label>"
        f"<select id='reason' name='reason' required><option value=''>Choose…</option>"
        f"{options}</select><label for='note'>Note</label>"
        f"<textarea id='note' name='note' rows='4' maxlength='{MAX_NOTE}'>{esc(text)}</textarea>"
        "<button type='submit'>Decline this referral</button></form>"
    )


def link_problem(secret: str, token: str, err: LinkError) -> HTMLResponse:
    """410 for an authentic link past its expiry, 400 for a malformed or forged one."""
    try:
        verify_link(secret, token, EPOCH)
    except LinkError:
        return page("This link is not valid", note(str(err), "bad"), 400)
    return page(
        "This link has expired",
        note(str(err), "bad")
        + "<p>The referral may have been reassigned. Your portal API token still works.</p>",
        410,
    )


def unavailable_page(link_spent: bool = False) -> HTMLResponse:
    if link_spent:
        text = (
            "The referral service did not confirm your answer, and this link cannot be used "
            "again. Please check the referral through the partner portal API."
        )
    else:
        text = "The referral service cannot be reached right now. Nothing was changed."
    return page("Please try again shortly", note(text, "bad"), 503)


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
        return "", "", "the form is too large"
    fields = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    reason = (fields.get("reason") or [""])[0]
    text = (fields.get("note") or [""])[0].replace("\r\n", "\n")
    if len(text) > MAX_NOTE:
        return reason, text, f"the note is longer than {MAX_NOTE} characters"
    if any(ch in text for ch in _FORBIDDEN):
        return reason, "", "the note contains control characters"
    if reason not in DECLINE_REASONS:
        return reason, text, "choose a reason from the list"
    if reason == Reason.OTHER and not text.strip():
        return reason, text, "a decline with reason 'other' needs a note"
    return reason, text, None


# ---------------------------------------------------------------------------- routes


@router.get("/act/{token}", response_class=HTMLResponse)
async def confirm(token: Token, portal: PortalDep) -> HTMLResponse:
    """Shows what the link would do. Changes nothing."""
    secret = portal.settings.link_secret.get_secret_value()
    try:
        claims = verify_link(secret, token, datetime.now(UTC))
    except LinkError as err:
        return link_problem(secret, token, err)
    try:
        loaded = await load(portal, claims.workflow_id)
        if loaded is None:
            return page("Referral not found", note("This referral no longer exists.", "bad"), 404)
        probe = _action(claims, Reason.CUSTOMER_UNRESPONSIVE if claims.action == "decline" else "")
        refusal = await _precheck(portal, loaded, probe)
        info = await summary(portal, loaded, claims.partner)
    except UNAVAILABLE:
        return unavailable_page()
    verb = "Accept" if claims.action == "accept" else "Decline"
    if refusal is not None:
        return page(f"{verb} referral {claims.workflow_id}", info + note(refusal.message), 409)
    return page(f"{verb} referral {claims.workflow_id}", info + form(claims))


@router.post("/act/{token}", response_class=HTMLResponse)
async def perform(token: Token, request: Request, portal: PortalDep) -> HTMLResponse:
    """Performs the link's action, once."""
    secret = portal.settings.link_secret.get_secret_value()
    try:
        claims = verify_link(secret, token, datetime.now(UTC))
    except LinkError as err:
        return link_problem(secret, token, err)
    title = f"{'Accept' if claims.action == 'accept' else 'Decline'} referral {claims.workflow_id}"
    reason, text = "", ""
    if claims.action == "decline":
        reason, text, problem = _read_form(await request.body())
        if problem is not None:
            return await _again(portal, claims, title, problem, reason, text, 422)
    action = _action(claims, reason, text)
    try:
        loaded = await load(portal, claims.workflow_id)
        if loaded is None:
            return page("Referral not found", note("This referral no longer exists.", "bad"), 404)
        refusal = await _precheck(portal, loaded, action)
        if refusal is not None and refusal.code in RETRYABLE:
            return await _again(portal, claims, title, refusal.message, reason, text, 409)
        # Past this point the link is spent either way (a state refusal never clears).
        if not await portal.tokens.use_link(claims.nonce, datetime.now(UTC)):
            return page(title, note("This link was already used.", "bad"), 409)
        if refusal is not None:
            return page(title, note(refusal.message, "bad"), 409)
        status_code, body = await run_update(
            portal, loaded, claims.action, action, f"link:{claims.nonce}"
        )
    except ApiError:  # the link is spent but Temporal did not confirm the update
        return unavailable_page(link_spent=True)
    except UNAVAILABLE:
        return unavailable_page()
    if status_code != 200:
        return page(title, note(str(body.get("message", "refused")), "bad"), status_code)
    if claims.action == "accept":
        done = "Accepted. Please contact the customer, with the account team, within two days."
    else:
        done = "Declined. The referral will be offered to another partner. Thank you."
    return page(title, note(done, "ok"))


async def _again(
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
        info = await summary(portal, loaded, claims.partner) if loaded else ""
        still_assigned = loaded is not None and (
            loaded.state.current is not None and loaded.state.current.partner == claims.partner
        )
    except UNAVAILABLE:
        return unavailable_page()
    again = form(claims, reason, text) if claims.action == "decline" and still_assigned else ""
    return page(title, note(problem, "bad") + info + again, status_code)


@router.get("/referrals/{id}", response_class=HTMLResponse)
async def view(id: Annotated[str, Path(max_length=80)]) -> HTMLResponse:
    """The 'view' link of notification emails. Without a login it shows no referral data."""
    body = (
        f"<p>Referral <strong>{esc(id)}</strong>.</p>"
        "<p>Use the <em>Accept</em> or <em>Decline</em> link in the notification email, or the "
        "partner portal API with your token:</p>"
        f"<pre>GET /api/referrals/{esc(id)}\nAuthorization: Bearer YOUR_TOKEN</pre>"
        "<p>The API is described at <a href='/docs'>/docs</a>.</p>"
    )
    return page("FastTrack referral", body)
