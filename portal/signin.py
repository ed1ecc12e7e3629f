"""Passwordless sign-in by emailed link: the same answer, in the same time, for every address
(no account enumeration: the email leaves after the answer), rate limits per address (past it
no more links, the answer unchanged) and per client, single-use links valid 15 minutes, the
link page asks for a click (mail scanners that prefetch it sign nobody in), and sign-out."""

from __future__ import annotations

import logging
import re
import secrets
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parseaddr
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from db.portal_prefs import PreferenceStore
from db.portal_store import LINK_LIFETIME, Limits, LinkUse
from domain import access
from domain.text import trp
from mail import i18n
from mail.compose import render as render_email
from mail.i18n import _, _n
from mail.mime import Outgoing, alternative
from mail.smtp import MailError, deliver
from portal.auth import Portal, PortalDep
from portal.render import read_form, render
from portal.session import (
    SESSION_COOKIE,
    OptionalViewer,
    PageProblem,
    anon_csrf,
    anon_csrf_ok,
    checked_form,
    set_anon_cookie,
    set_session_cookie,
)

log = logging.getLogger("fasttrack.portal")

router = APIRouter(include_in_schema=False)

LIMITS = Limits(window=timedelta(minutes=15), per_address=5, per_client=30)
_ADDRESS = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
LINK_MINUTES = int(LINK_LIFETIME.total_seconds() // 60)
# The link store's answers (English in db/), as the pages say them.
LINK_PROBLEMS = {
    "This sign-in link is not valid.": trp("sign-in", "This sign-in link is not valid."),
    "This sign-in link was already used.": trp("sign-in", "This sign-in link was already used."),
    "This sign-in link has expired.": trp("sign-in", "This sign-in link has expired."),
}


def sent() -> str:
    return _n(
        "If this address may use the portal, a sign-in link is on its way. It works once, "
        "for %(n)s minute.",
        "If this address may use the portal, a sign-in link is on its way. It works once, "
        "for %(n)s minutes.",
        LINK_MINUTES,
    )


NextPath = Annotated[str, Query(max_length=500)]
SignInToken = Annotated[str, Path(max_length=100)]


def safe_next(path: str) -> str:
    """Only paths on this portal (never another site)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path or len(path) > 500:
        return "/"
    return path


async def identify(portal: Portal, email: str) -> tuple[str, str | None] | None:
    """(role, MPN ID) of an address allowed to sign in, or None. The directory is read for
    every address, so that the answer takes as long for an operator as for anyone."""
    partners = await portal.directory.list()
    if access.operator(email, portal.settings.operator_emails):
        return "operator", None
    for record in partners:
        profile = record.profile
        if access.partner_user(email, profile.referral_contact, profile.portal_users):
            return "partner", profile.mpn_id
    return None


@router.get("/", response_class=HTMLResponse)
async def home(viewer: OptionalViewer) -> Response:
    if viewer is None:
        return RedirectResponse("/signin", status_code=303)
    return RedirectResponse(
        "/ops/escalations" if viewer.role == "operator" else "/referrals", status_code=303
    )


@router.get("/signin", response_class=HTMLResponse)
async def signin_form(
    request: Request, portal: PortalDep, viewer: OptionalViewer, next: NextPath = "/"
) -> Response:
    if viewer is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _form(request, portal, safe_next(next))


def _form(
    request: Request,
    portal: Portal,
    next_path: str,
    email: str = "",
    error: str = "",
    message: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    anon, token = anon_csrf(request, portal)
    response = render(
        request,
        "signin",
        status_code,
        title=_("Sign in"),
        nav="",
        next_path=next_path,
        email=email,
        errors={"email": error} if error else {},
        message=message,
        kind="bad" if status_code >= 400 else "ok",
        csrf=token,
    )
    set_anon_cookie(response, request, portal, anon)
    return response


@router.post("/signin", response_class=HTMLResponse)
async def signin_request(request: Request, portal: PortalDep) -> HTMLResponse:
    form = await read_form(request) or {}
    next_path = safe_next(form.get("next", "/"))
    email = form.get("email", "").strip().lower()
    if not anon_csrf_ok(request, portal, form.get("csrf", "")):
        message = _("This form expired; try again.")
        return _form(request, portal, next_path, email, "", message, 403)
    if not _ADDRESS.match(email):
        problem = _("Enter an email address.")
        return _form(request, portal, next_path, email, problem, "", 422)
    now = datetime.now(UTC)
    client = access.client_key(request.client.host if request.client else "unknown")
    who = await identify(portal, email)
    admitted = await portal.store.admit(email, client, now, LIMITS, next_path if who else None)
    if admitted.refused:
        message = _("Too many sign-in requests. Please wait a few minutes and try again.")
        return _form(request, portal, next_path, email, "", message, 429)
    if admitted.token is not None:
        portal.background.run(_send_link(portal, email, who, admitted.token, now))
    return _form(request, portal, next_path, "", "", sent())


async def email_language(portal: Portal, email: str, who: tuple[str, str | None] | None) -> str:
    """The sign-in email's language: the address's own choice, else its partner's locale,
    else the language of the page it was asked from."""
    chosen = await PreferenceStore(portal.sessions).locale(email)
    if chosen:
        return chosen
    if who is not None and who[1] is not None:
        record = await portal.directory.get(who[1])
        if record is not None:
            return record.profile.effective_locale
    return i18n.current()


async def _send_link(
    portal: Portal, email: str, who: tuple[str, str | None] | None, token: str, now: datetime
) -> None:
    """Email the sign-in link, in the language its user chose (off the request's path, so
    the answer takes the same time for every address)."""
    settings = portal.settings
    tag = await email_language(portal, email, who)
    link = f"{settings.portal_url.rstrip('/')}/signin/{token}"
    with i18n.using(tag):
        subject = _("Your sign-in link to the FastTrack partner portal")
        text, html = render_email(
            "portal/signin_email",
            {
                "subject": subject,
                "link": link,
                "minutes": LINK_MINUTES,
                "email": email,
                "tone": "benefit",
                "banner": _("Partner portal"),
                "locale": tag,
            },
        )
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "fasttrack.localhost"
    message_id = f"<signin.{secrets.token_hex(12)}@{domain}>"
    headers = [
        ("Message-ID", message_id),
        ("Date", format_datetime(now)),
        ("From", settings.mail_from),
        ("To", email),
        ("Subject", subject),
        ("Auto-Submitted", "auto-generated"),
        ("Content-Language", tag),
    ]
    raw = alternative(headers, text, html)
    try:
        await deliver(
            Outgoing(message_id, parseaddr(settings.mail_from)[1], [email], [], raw), settings
        )
    except (MailError, OSError) as err:
        reason = str(err).replace(email, "<address>")  # no address in the log
        log.warning("a sign-in link was not sent (message %s): %s", message_id, reason)


@router.get("/signin/{token}", response_class=HTMLResponse)
async def signin_confirm(token: SignInToken, request: Request, portal: PortalDep) -> HTMLResponse:
    """Shows whom the link signs in. Spends nothing."""
    found = await portal.store.peek_link(token, datetime.now(UTC))
    if isinstance(found, str):
        return _expired(request, portal, found)
    anon, csrf = anon_csrf(request, portal)
    response = render(
        request, "signin_confirm", title=_("Sign in"), nav="", email=found.email, csrf=csrf
    )
    set_anon_cookie(response, request, portal, anon)
    return response


@router.post("/signin/{token}", response_class=HTMLResponse)
async def signin_complete(token: SignInToken, request: Request, portal: PortalDep) -> Response:
    form = await read_form(request) or {}
    if not anon_csrf_ok(request, portal, form.get("csrf", "")):
        raise PageProblem(
            403, _("Form expired"), _("This form is no longer valid; open the link again.")
        )
    now = datetime.now(UTC)
    used = await portal.store.use_link(token, now)
    if isinstance(used, str):
        return _expired(request, portal, used)
    return await _open_session(request, portal, used, now)


async def _open_session(request: Request, portal: Portal, used: LinkUse, now: datetime) -> Response:
    who = await identify(portal, used.email)
    if who is None:  # the address lost its access after the link was sent
        return _expired(request, portal, _("This address may no longer use the portal."))
    role, mpn_id = who
    sid, _csrf = await portal.store.open_session(used.email, role, mpn_id, now)
    default = "/ops/escalations" if role == "operator" else "/referrals"
    target = used.next_path if used.next_path != "/" else default
    response = RedirectResponse(safe_next(target), status_code=303)
    set_session_cookie(response, request, portal, sid)
    return response


def _expired(request: Request, portal: Portal, problem: str) -> HTMLResponse:
    known = LINK_PROBLEMS.get(problem)
    text = i18n.translate(known) if known else problem
    message = _("%(problem)s Request a new one below.", problem=text)
    return _form(request, portal, "/", "", "", message, 410)


@router.post("/signout", response_class=HTMLResponse)
async def signout(request: Request, portal: PortalDep, viewer: OptionalViewer) -> Response:
    response = RedirectResponse("/signin", status_code=303)
    if viewer is not None:
        await checked_form(request, viewer)
        sid = request.cookies.get(SESSION_COOKIE, "")
        await portal.store.end_session(sid, datetime.now(UTC))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def signin_url(next_path: str) -> str:
    return f"/signin?next={quote(next_path, safe='/')}"
