"""Server-rendered pages: the Jinja2 environment (templates/portal/*), the security headers
every response carries, and the urlencoded form reader (no multipart needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from babel import Locale
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.locales import LOCALES
from mail import display, formats, i18n
from mail.jinja import i18n_environment

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_FORM_BYTES = 16_384
# Each language named in itself (the picker reads the same in every language).
LANGUAGE_NAMES: tuple[tuple[str, str], ...] = tuple(
    (tag, Locale.parse(i18n.babel_id(tag)).get_display_name() or tag) for tag in LOCALES
)

# No inline script anywhere; styles come from /static; forms post only to the portal.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
# Pages whose address carries a secret token: they send no Referer anywhere.
TOKEN_PATHS = ("/signin/", "/act/")
HSTS = "max-age=31536000; includeSubDomains"

env = i18n_environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    undefined=StrictUndefined,
    autoescape=select_autoescape(enabled_extensions=("html.j2", "svg.j2")),
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
env.filters.update(
    when=formats.moment_short,
    status=display.status,
    outcome=display.outcome,
    history=display.history,
    criterion=display.criterion,
)
env.globals.update(history_words=display.history_words)
templates = Jinja2Templates(env=env)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The page `templates/portal/<name>.html.j2` with `context` (plus request and viewer)."""
    context.setdefault("viewer", getattr(request.state, "viewer", None))
    context.setdefault("shows_times", False)
    context.setdefault("nav", "")  # the menu entry of this page; none for the email-link pages
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    context.update(
        locale=i18n.current(),
        languages=LANGUAGE_NAMES,
        here=here if request.method == "GET" else "/",
        zone_name=formats.zone_generic(),
    )
    response = templates.TemplateResponse(
        request, f"portal/{name}.html.j2", context, status_code=status_code
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def read_form(request: Request) -> dict[str, str] | None:
    """An urlencoded form's fields (first value of each), None when it is too large."""
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        return None
    fields = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0].replace("\r\n", "\n") for k, v in fields.items()}


async def read_form_lists(request: Request) -> dict[str, list[str]]:
    """An urlencoded form's fields with every value (checkbox groups)."""
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        return {}
    return parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)


class SecurityHeaders:
    """Content-Security-Policy and friends on every response (pure ASGI: streams untouched).
    One Referrer-Policy: none at all from pages whose address holds a token; HSTS when the
    request came over HTTPS (the scheme a trusted proxy forwarded counts)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        referrer = b"no-referrer" if path.startswith(TOKEN_PATHS) else b"same-origin"
        fixed = [
            (b"content-security-policy", CSP.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", referrer),
            (b"x-frame-options", b"DENY"),
        ]
        if scope.get("scheme") == "https":
            fixed.append((b"strict-transport-security", HSTS.encode()))
        names = {name for name, _ in fixed}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in names]
                message["headers"] = headers + fixed
            await send(message)

        await self.app(scope, receive, send_with_headers)
