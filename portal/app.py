"""The portal application: routers, and error handlers that answer every failure as JSON
`{"error": CODE, "message": TEXT}`."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from mail.i18n import _
from portal import (
    api_docs,
    exports,
    integrations_pages,
    language,
    logredact,
    observability,
    operator_pages,
    pages,
    partner_pages,
    profile_pages,
    signin,
    sso,
)
from portal.admin_api import admin_api
from portal.auth import Portal
from portal.gateway import UNAVAILABLE, unavailable
from portal.partner_api import partner_api
from portal.render import STATIC_DIR, SecurityHeaders, render
from portal.schemas import ApiError, Health
from portal.session import (
    PageProblem,
    SignInRequired,
    on_page_problem,
    on_sign_in_required,
    service_unavailable,
)
from settings import Settings

log = logging.getLogger("fasttrack.portal")

DESCRIPTION = """\
Partners act on the FastTrack referrals assigned to them: accept, decline with a reason,
record customer contact and milestones, close the engagement. Every call carries
`Authorization: Bearer TOKEN`. Errors are `{"error": CODE, "message": TEXT}`; a refused action
is a 409 whose `error` is the policy code and whose `message` is the program's answer.
POSTs accept an `Idempotency-Key` header: a repeat returns the first answer and changes nothing.
"""


class ErrorResponse(JSONResponse):
    """JSON with ASCII escapes, so no text in a message can break the encoding."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def error(
    status_code: int, code: str, message: str, headers: dict[str, str] | None = None
) -> ErrorResponse:
    return ErrorResponse({"error": code, "message": message}, status_code, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str]:
    """(code, message) naming each offending field, never echoing the value sent."""
    parts, in_body = [], False
    for err in exc.errors()[:5]:
        loc = [str(x) for x in err.get("loc", ())]
        in_body = in_body or (bool(loc) and loc[0] == "body")
        where = ".".join(loc[1:] if len(loc) > 1 else loc) or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    code = "invalid_body" if in_body else "invalid_request"
    return code, "; ".join(parts) or "invalid request"


def _is_page(request: Request) -> bool:
    """A browser page (HTML answers), not the JSON API."""
    path = request.url.path
    return not path.startswith(("/api/", "/openapi", "/docs", "/healthz", "/static/"))


def _problem_page(request: Request, status_code: int, title: str, message: str) -> Response:
    request.state.viewer = getattr(request.state, "viewer", None)
    return render(request, "problem", status_code, title=title, message=message, nav="")


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> ErrorResponse:
        assert isinstance(exc, ApiError)
        return error(exc.status_code, exc.code, exc.message, exc.headers)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        code, message = _validation_message(exc)
        if _is_page(request):
            fields = sorted({str(e.get("loc", ("", "?"))[-1]) for e in exc.errors()[:5]})
            text = _(
                "The address of this page has a value the page cannot use: %(fields)s.",
                fields=", ".join(fields),
            )
            return _problem_page(request, 422, _("Invalid request"), text)
        return error(422, code, message)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if _is_page(request) and exc.status_code in (404, 405):
            return _problem_page(
                request, exc.status_code, _("Not found"), _("There is no such page.")
            )
        if exc.status_code == 400:  # FastAPI could not parse the body (not JSON, bad bytes)
            return error(422, "invalid_body", "the body is not valid JSON")
        codes = {404: "not_found", 405: "method_not_allowed"}
        code = codes.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code
        if exc.status_code == 404:
            message = "no such endpoint"
        return error(exc.status_code, code, message, getattr(exc, "headers", None))

    async def on_unavailable(request: Request, exc: Exception) -> Response:
        api = unavailable(exc)
        if _is_page(request):
            page = on_page_problem(request, service_unavailable())
            page.headers.update(api.headers or {})
            return page
        return error(api.status_code, api.code, api.message, api.headers)

    async def on_anything(request: Request, exc: Exception) -> Response:
        # Last resort: every known failure is answered above; this only keeps the shape.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if _is_page(request):
            text = _("The portal could not answer; operations are told. Please try again shortly.")
            return _problem_page(request, 500, _("Something went wrong"), text)
        return error(500, "internal_error", "the portal failed to answer; operations are told")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(PageProblem, on_page_problem)
    app.add_exception_handler(SignInRequired, on_sign_in_required)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    for exc_type in UNAVAILABLE:
        app.add_exception_handler(exc_type, on_unavailable)
    app.add_exception_handler(Exception, on_anything)


def create_app(
    settings: Settings, client: Client, sessions: async_sessionmaker[AsyncSession]
) -> FastAPI:
    portal = Portal.build(settings, client, sessions)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await portal.background.drain()  # sign-in emails already promised leave before exit

    app = FastAPI(
        title="FastTrack partner portal",
        version="1.0.0",
        description=DESCRIPTION,
        docs_url=None,  # portal/api_docs.py serves /docs without Swagger UI's CDN script
        redoc_url=None,
        lifespan=lifespan,
    )
    logredact.install()
    app.state.portal = portal
    install_error_handlers(app)
    observability.install(app, client, sessions, settings.portal_metrics_token)
    app.include_router(partner_api)
    app.include_router(admin_api)
    in_language = [Depends(language.settle)]
    for router in (
        pages.router,
        signin.router,
        partner_pages.router,
        profile_pages.router,
        operator_pages.router,
        exports.router,
        integrations_pages.router,
        sso.router,
        api_docs.router,
    ):
        app.include_router(router, dependencies=in_language)
    app.include_router(language.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(SecurityHeaders)
    app.add_middleware(language.LanguageMiddleware, default=settings.program_locale)
    # Outermost: the scheme and client address a trusted proxy forwarded, for everything inside.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.portal_trusted_proxies)

    @app.get("/healthz", response_model=Health, tags=["operations"], summary="Liveness")
    async def healthz() -> Health:
        return Health(status="ok")

    return app
