"""The language and time zone of each page. Signed in: the user's own choice (the header's
picker), else the partner's `locale` (operators: PROGRAM_LOCALE), in the partner's time zone
(operators: UTC). Before sign-in: the picker's cookie, else `Accept-Language`."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.requests import Request as PlainRequest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.portal_prefs import PreferenceStore
from domain.locales import negotiate, parse_locale
from mail import i18n
from portal.auth import PortalDep
from portal.render import read_form
from portal.session import OptionalViewer

LANG_COOKIE = "ft_lang"
router = APIRouter(include_in_schema=False)


class LanguageMiddleware:
    """Starts every request in the visitor's language; pages answer with Content-Language."""

    def __init__(self, app: ASGIApp, default: str = "en") -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = PlainRequest(scope)
        cookie = request.cookies.get(LANG_COOKIE, "")
        chosen = i18n.PSEUDO if cookie == i18n.PSEUDO else parse_locale(cookie)
        i18n.begin(chosen or negotiate(request.headers.get("accept-language", ""), self.default))

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if any(k == b"content-type" and v.startswith(b"text/html") for k, v in headers):
                    headers.append((b"content-language", i18n.current().encode()))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_language)


async def settle(portal: PortalDep, viewer: OptionalViewer) -> None:
    """The signed-in viewer's language and time zone for the rest of the request (a
    dependency of every page router)."""
    if viewer is None:
        return
    chosen = await PreferenceStore(portal.sessions).locale(viewer.email)
    zone, default = "UTC", portal.settings.program_locale
    if viewer.role == "partner" and viewer.mpn_id:
        record = await portal.directory.get(viewer.mpn_id)
        if record is not None:
            zone, default = record.profile.timezone, record.profile.effective_locale
    i18n.switch(chosen or default, zone)


def _safe_next(path: str) -> str:
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


@router.post("/language")
async def choose_language(
    request: Request, portal: PortalDep, viewer: OptionalViewer
) -> RedirectResponse:
    """The header's picker: stored for the signed-in user, in a cookie before sign-in."""
    form = await read_form(request) or {}
    tag = parse_locale(form.get("locale", "")) or i18n.current()
    response = RedirectResponse(_safe_next(form.get("next", "/")), status_code=303)
    if viewer is not None and hmac.compare_digest(form.get("csrf", ""), viewer.csrf):
        await PreferenceStore(portal.sessions).set_locale(viewer.email, tag, datetime.now(UTC))
    response.set_cookie(LANG_COOKIE, tag, max_age=365 * 86400, samesite="lax", path="/")
    return response
