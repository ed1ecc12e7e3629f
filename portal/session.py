"""Who is using the pages: the session cookie (random id, HttpOnly, SameSite=Lax, Secure behind
HTTPS), the CSRF token every form carries, and the answers for missing or wrong sign-ins."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from db.portal_store import SESSION_ABSOLUTE, Viewer
from domain.links import SIGN_IN_FORMS, derive_key
from mail.i18n import _
from portal.auth import Portal, PortalDep
from portal.render import read_form, read_form_lists, render

SESSION_COOKIE = "ft_session"
ANON_COOKIE = "ft_anon"  # binds the sign-in forms' CSRF token to a browser before sign-in


class PageProblem(Exception):
    """An HTML answer other than the page asked for (sign-in needed, 403, 404)."""

    def __init__(self, status_code: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.title = title
        self.message = message


def service_unavailable() -> PageProblem:
    """A page's answer while Temporal or the database cannot be reached."""
    return PageProblem(
        503,
        _("Please try again shortly"),
        _("The referral service cannot be reached right now. Nothing was changed."),
    )


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def page_not_found() -> PageProblem:
    return PageProblem(404, _("Not found"), _("There is no such page, or it is not yours."))


def secure(request: Request, portal: Portal) -> bool:
    return request.url.scheme == "https" or portal.settings.portal_url.startswith("https://")


def set_session_cookie(response: Response, request: Request, portal: Portal, sid: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        sid,
        max_age=int(SESSION_ABSOLUTE.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure(request, portal),
        path="/",
    )


async def optional_viewer(request: Request, portal: PortalDep) -> Viewer | None:
    sid = request.cookies.get(SESSION_COOKIE)
    settings = portal.settings
    viewer = (
        await portal.store.viewer(
            sid,
            datetime.now(UTC),
            settings.operator_emails,
            # OIDC_OPERATOR_CLAIM: the identity provider, not OPERATOR_EMAILS, makes operators
            operators_by_claim=bool(settings.oidc_issuer and settings.oidc_operator_claim),
        )
        if sid
        else None
    )
    request.state.viewer = viewer
    return viewer


OptionalViewer = Annotated[Viewer | None, Depends(optional_viewer)]


def _next(request: Request) -> str:
    path = request.url.path
    return f"{path}?{request.url.query}" if request.url.query else path


async def signed_in(request: Request, viewer: OptionalViewer) -> Viewer:
    if viewer is None:
        raise SignInRequired(_next(request) if request.method == "GET" else "/")
    return viewer


async def partner_viewer(viewer: Annotated[Viewer, Depends(signed_in)]) -> Viewer:
    if viewer.role != "partner" or viewer.mpn_id is None:
        raise page_not_found()
    return viewer


async def operator_viewer(viewer: Annotated[Viewer, Depends(signed_in)]) -> Viewer:
    if viewer.role != "operator":
        raise page_not_found()
    return viewer


PartnerViewer = Annotated[Viewer, Depends(partner_viewer)]
OperatorViewer = Annotated[Viewer, Depends(operator_viewer)]


async def checked_form(request: Request, viewer: Viewer) -> dict[str, str]:
    """The POSTed form, refused unless it carries the session's CSRF token."""
    form = await read_form(request)
    if form is None:
        raise PageProblem(413, _("Form too large"), _("The form is too large."))
    if not hmac.compare_digest(form.get("csrf", "").encode(), viewer.csrf.encode()):
        raise form_expired()
    return form


async def checked_lists(request: Request, viewer: Viewer) -> dict[str, list[str]]:
    """Like `checked_form`, with every value of each field (checkbox groups)."""
    form = await read_form_lists(request)
    if not hmac.compare_digest((form.get("csrf") or [""])[0].encode(), viewer.csrf.encode()):
        raise form_expired()
    return form


def form_expired() -> PageProblem:
    return PageProblem(
        403, _("Form expired"), _("This form is no longer valid. Go back, reload and try again.")
    )


def anon_csrf(request: Request, portal: Portal) -> tuple[str, str]:
    """(cookie value, token) of the sign-in forms' CSRF check for a browser not signed in."""
    anon = request.cookies.get(ANON_COOKIE) or secrets.token_urlsafe(24)
    key = derive_key(portal.settings.link_secret.get_secret_value(), SIGN_IN_FORMS)
    token = hmac.new(key, anon.encode(), hashlib.sha256).hexdigest()[:40]
    return anon, token


def anon_csrf_ok(request: Request, portal: Portal, sent: str) -> bool:
    if ANON_COOKIE not in request.cookies:
        return False
    expected = anon_csrf(request, portal)[1]
    return hmac.compare_digest(sent.encode(), expected.encode())


def set_anon_cookie(response: Response, request: Request, portal: Portal, anon: str) -> None:
    response.set_cookie(
        ANON_COOKIE, anon, httponly=True, samesite="lax", secure=secure(request, portal), path="/"
    )


def on_sign_in_required(request: Request, exc: Exception) -> RedirectResponse:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(f"/signin?next={quote(exc.next_path, safe='/')}", status_code=303)


def on_page_problem(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, PageProblem)
    return render(request, "problem", exc.status_code, title=exc.title, message=exc.message, nav="")
