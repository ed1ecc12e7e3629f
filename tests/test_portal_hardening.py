"""The portal's security promises (issue 27, findings 13-17): no token in any log line, one
Referrer-Policy, HSTS over HTTPS (directly or behind a trusted proxy), API docs without a
third-party script, metrics behind a token, and a separate key for each use of LINK_SECRET."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr
from temporalio.client import Client

import settings as settings_module
from db.portal_store import Limits, PortalStore
from domain.links import ACTION_LINKS, SIGN_IN_FORMS, derive_key
from portal import create_app
from runtime.codec_server import serve_in_background
from settings import Settings, SettingsError
from tests.conftest import free_port
from tests.dbfixtures import Database

METRICS_TOKEN = "metrics-scraper-token"


@dataclass
class Site:
    settings: Settings
    database: Database
    client: Client

    def web(
        self, settings: Settings | None = None, client: tuple[str, int] = ("127.0.0.1", 123)
    ) -> httpx.AsyncClient:
        app = create_app(settings or self.settings, self.client, self.database.sessionmaker)
        transport = httpx.ASGITransport(app=app, client=client)
        return httpx.AsyncClient(transport=transport, base_url="http://portal")


@pytest.fixture
async def site(database: Database) -> AsyncIterator[Site]:
    client = await Client.connect("127.0.0.1:1", lazy=True)
    settings = replace(Settings(), database_url=database.url, portal_url="http://portal")
    yield Site(settings, database, client)


async def test_sign_in_and_action_tokens_never_reach_a_log_line(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    keep = Keep()
    port = free_port()
    app = create_app(site.settings, site.client, site.database.sessionmaker)
    server = serve_in_background(app, "127.0.0.1", port)
    access = logging.getLogger("uvicorn.access")
    level = access.level
    access.setLevel(logging.INFO)
    access.addHandler(keep)
    logging.getLogger().addHandler(keep)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            while not server.server.started:  # uvicorn binds on the running loop
                await asyncio.sleep(0.02)
            await http.get("/signin/SIGNINTOKEN0123456789abcdef")
            await http.get("/act/ACTIONTOKEN.0123456789abcdef?x=1")
            logging.getLogger("fasttrack.portal").warning("opened /signin/LOGGEDTOKEN42 by hand")
    finally:
        await server.stop()
        access.removeHandler(keep)
        access.setLevel(level)
        logging.getLogger().removeHandler(keep)
    text = "\n".join(lines + [r.getMessage() for r in caplog.records])
    assert "/signin/" in text and "/act/" in text, text  # the lines exist, the tokens do not
    for token in ("SIGNINTOKEN0123456789abcdef", "ACTIONTOKEN", "LOGGEDTOKEN42"):
        assert token not in text, text


async def test_every_page_sends_exactly_one_referrer_policy(site: Site) -> None:
    now = datetime.now(UTC)
    store = PortalStore(site.database.sessionmaker)
    limits = Limits(timedelta(minutes=15), per_address=5, per_client=30)
    token = (await store.admit("a@x.example", "c", now, limits, "/")).token
    assert token is not None
    async with site.web() as web:
        confirm = await web.get(f"/signin/{token}")
        assert confirm.status_code == 200
        assert confirm.headers.get_list("referrer-policy") == ["no-referrer"]
        form = await web.get("/signin")
        assert len(form.headers.get_list("referrer-policy")) == 1
        assert (await web.get("/act/x.y")).headers.get_list("referrer-policy") == ["no-referrer"]


async def test_hsts_is_sent_over_https_directly_or_behind_a_trusted_proxy_only(
    site: Site,
) -> None:
    hsts = "strict-transport-security"
    async with site.web() as web:
        assert hsts not in (await web.get("/signin")).headers
        proxied = await web.get("/signin", headers={"X-Forwarded-Proto": "https"})
        assert "max-age=" in proxied.headers[hsts]
        assert "secure" in proxied.headers["set-cookie"].lower()
        direct = await web.get("https://portal/signin")
        assert "max-age=" in direct.headers[hsts]
    async with site.web(client=("203.0.113.7", 5000)) as stranger:  # not a trusted proxy
        spoofed = await stranger.get("/signin", headers={"X-Forwarded-Proto": "https"})
        assert hsts not in spoofed.headers


async def test_api_docs_load_no_third_party_script_and_metrics_need_their_token(
    site: Site,
) -> None:
    async with site.web() as web:
        docs = await web.get("/docs")
        assert docs.status_code == 200 and "/api/referrals/{id}/accept" in docs.text
        assert "<script" not in docs.text.lower() and "cdn" not in docs.text.lower()
        assert "script-src 'self'" in docs.headers["content-security-policy"]
        assert (await web.get("/metrics")).status_code == 404  # no token configured: no metrics
    guarded = replace(site.settings, portal_metrics_token=SecretStr(METRICS_TOKEN))
    async with site.web(guarded) as web:
        assert (await web.get("/metrics")).status_code == 401
        wrong = await web.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = await web.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert ok.status_code == 200 and "fasttrack_portal_requests" in ok.text


def _raw_link(secret: str, workflow_id: str) -> str:
    """An action link signed the old way: HMAC with LINK_SECRET itself."""
    expires = int((datetime.now(UTC) + timedelta(days=1)).timestamp())
    body = json.dumps(
        {"a": "accept", "e": expires, "n": "n1", "p": "1001", "w": workflow_id},
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    mac = hmac.new(secret.encode(), body, hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return f"{b64(body)}.{b64(mac)}"


async def test_links_and_sign_in_forms_are_signed_with_keys_derived_for_their_own_use(
    site: Site,
) -> None:
    raw = site.settings.link_secret.get_secret_value()
    async with site.web() as web:
        r = await web.get(f"/act/{_raw_link(raw, 'FT-RAW-KEY')}")
        assert r.status_code == 400 and "not valid" in r.text
        await web.get("/signin")
        anon = web.cookies["ft_anon"]
        forged = hmac.new(raw.encode(), anon.encode(), hashlib.sha256).hexdigest()[:40]
        r = await web.post("/signin", data={"email": "a@x.example", "csrf": forged})
        assert r.status_code == 403


def test_the_source_holds_no_link_secret_constant() -> None:
    root = Path(__file__).resolve().parent.parent
    constant = re.compile(r"""(?i)link_secret\w*\s*(:[^=\n]*)?=\s*(SecretStr\()?["'][^"']+["']""")
    sources = [
        p
        for p in root.rglob("*.py")
        if not {".venv", "tests", "var"} & set(p.relative_to(root).parts)
    ]
    assert root / "settings" / "__init__.py" in sources
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert "dev-only-link-secret" not in text and not constant.search(text), path
    assert not hasattr(settings_module, "BUILTIN_LINK_SECRET")


def test_the_demo_generates_its_link_secret_once_into_var(tmp_path: Path) -> None:
    where = tmp_path / "var" / "link-secret"
    environ = {"LINK_SECRET_FILE": str(where)}
    first = Settings.from_env(environ, demo=True).link_secret.get_secret_value()
    assert where.exists() and where.stat().st_mode & 0o777 == 0o600
    assert first == where.read_text(encoding="utf-8").strip() and len(first) >= 32
    assert Settings.from_env(environ, demo=True).link_secret.get_secret_value() == first
    assert Settings().link_secret.get_secret_value() != Settings().link_secret.get_secret_value()


def test_each_use_of_the_link_secret_gets_its_own_hkdf_key() -> None:
    for purpose in (ACTION_LINKS, SIGN_IN_FORMS):
        expected = HKDF(hashes.SHA256(), 32, salt=None, info=purpose.encode()).derive(b"s3cret")
        assert derive_key("s3cret", purpose) == expected
    assert derive_key("s3cret", ACTION_LINKS) != derive_key("s3cret", SIGN_IN_FORMS)


def test_outside_the_demo_the_link_secret_comes_only_from_the_variable_or_a_named_file(
    tmp_path: Path,
) -> None:
    production = {
        "DATABASE_URL": "postgresql+asyncpg://u@db/fasttrack",
        "PAYLOAD_KEY_FILE": str(tmp_path / "keys.json"),
    }
    demo_file = tmp_path / "var" / "link-secret"
    Settings.from_env({"LINK_SECRET_FILE": str(demo_file)}, demo=True)  # the demo ran here
    with pytest.raises(SettingsError, match=r"^set LINK_SECRET:"):
        Settings.from_env(production)
    own = Settings.from_env({**production, "LINK_SECRET_FILE": str(demo_file)})
    assert own.link_secret.get_secret_value() == demo_file.read_text(encoding="utf-8").strip()
    with pytest.raises(SettingsError, match=r"^set LINK_SECRET:"):
        Settings.from_env({**production, "LINK_SECRET_FILE": str(tmp_path / "missing")})
    assert not (tmp_path / "missing").exists()  # generated only in the demo
