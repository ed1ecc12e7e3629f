"""Operators sign in with their company account (OpenID Connect, when OIDC_ISSUER and
OIDC_CLIENT_ID are set): `/sso/start` sends the browser to the issuer, `/sso/callback`
takes it back. The state is bound to the browser by a short-lived cookie and works once."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from db.sso import LIFETIME, SsoStore
from mail.i18n import _
from portal.auth import Portal, PortalDep
from portal.oidc import OidcClient, OidcError, is_operator, new_attempt
from portal.session import PageProblem, secure, set_session_cookie
from portal.signin import safe_next

router = APIRouter(include_in_schema=False)

STATE_COOKIE = "ft_sso_state"
Param = Annotated[str, Query(max_length=2000)]


def client_for(request: Request, portal: Portal) -> OidcClient:
    """One client (with its cached issuer metadata) per portal app."""
    if not portal.settings.oidc_enabled:
        raise PageProblem(404, _("Not found"), _("Single sign-on is not configured."))
    state = request.app.state
    if getattr(state, "oidc", None) is None:
        state.oidc = OidcClient(portal.settings)
    client: OidcClient = state.oidc
    return client


def redirect_uri(portal: Portal) -> str:
    return f"{portal.settings.portal_url}/sso/callback"


@router.get("/sso/start")
async def sso_start(request: Request, portal: PortalDep, next: Param = "/") -> Response:
    client = client_for(request, portal)
    attempt = new_attempt()
    try:
        target = await client.authorization_url(attempt, redirect_uri(portal))
    except OidcError as err:
        raise PageProblem(
            503,
            _("Sign-in unavailable"),
            _("The sign-in service cannot be reached: %(error)s", error=str(err)),
        ) from err
    now = datetime.now(UTC)
    await SsoStore(portal.sessions).begin(
        attempt.state, attempt.nonce, attempt.code_verifier, safe_next(next), now
    )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        STATE_COOKIE,
        attempt.state,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure(request, portal),
        path="/sso",
    )
    return response


@router.get("/sso/callback")
async def sso_callback(
    request: Request,
    portal: PortalDep,
    code: Param = "",
    state: Param = "",
    error: Param = "",
) -> Response:
    client = client_for(request, portal)
    if error:
        raise PageProblem(
            403,
            _("Sign-in refused"),
            _("The sign-in service answered: %(error)s.", error=error[:100]),
        )
    cookie = request.cookies.get(STATE_COOKIE, "")
    if not state or not code or not hmac.compare_digest(cookie.encode(), state.encode()):
        raise PageProblem(
            400, _("Sign-in failed"), _("This sign-in did not start in this browser.")
        )
    now = datetime.now(UTC)
    pending = await SsoStore(portal.sessions).use(state, now)
    if pending is None:
        raise PageProblem(
            410,
            _("Sign-in expired"),
            _("This sign-in was already used or has expired; start again."),
        )
    try:
        id_token = await client.exchange(code, pending.code_verifier, redirect_uri(portal))
        claims = await client.claims(id_token, pending.nonce)
    except OidcError as err:
        raise PageProblem(
            403,
            _("Sign-in failed"),
            _("The sign-in could not be checked: %(error)s", error=str(err)),
        ) from err
    email = is_operator(claims, portal.settings)
    if email is None:
        raise PageProblem(
            403,
            _("Not an operator"),
            _("Your company account may not use the operator pages."),
        )
    sid, _expires = await portal.store.open_session(email, "operator", None, now, via="oidc")
    target = pending.next_path if pending.next_path != "/" else "/ops/escalations"
    response = RedirectResponse(safe_next(target), status_code=303)
    set_session_cookie(response, request, portal, sid)
    response.delete_cookie(STATE_COOKIE, path="/sso")
    return response
