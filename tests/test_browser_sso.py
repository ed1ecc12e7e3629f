"""The single sign-on redirect round trip in a real browser (Playwright, headless Chromium):
the sign-in page's company-account button, the issuer (run inside the test), back to the
operator page asked for. Skipped, saying so, where Chromium is not installed."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import pytest_asyncio
from pydantic import SecretStr

from portal import create_app
from runtime.codec_server import Background, serve_in_background
from tests.harness import Harness
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, free_port

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/lib/chromium/chromium")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"browser tests skipped: no Chromium at {CHROMIUM} (apt-get install -y chromium)",
    ),
]

with contextlib.suppress(ImportError):
    from playwright.async_api import async_playwright


@pytest_asyncio.fixture
async def portal_url(h: Harness) -> AsyncIterator[tuple[str, Provider]]:
    provider = await Provider().start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = replace(
        h.settings,
        portal_url=url,
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=SecretStr(CLIENT_SECRET),
        oidc_operator_claim="groups=fasttrack-ops",
    )
    server: Background = serve_in_background(
        create_app(settings, h.client, h.sessions), "127.0.0.1", port
    )
    while not server.server.started:  # until uvicorn listens
        assert not server.task.done(), "the portal did not start"
        await asyncio.sleep(0.02)
    yield url, provider
    await server.stop()
    await provider.stop()


async def test_the_browser_goes_to_the_issuer_and_back_signed_in(
    portal_url: tuple[str, Provider],
) -> None:
    url, provider = portal_url
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            page = await browser.new_page()
            visited: list[str] = []
            page.on("request", lambda r: visited.append(r.url))
            await page.goto(f"{url}/signin?next=/ops/referrals")
            await page.click("#sso")
            await page.wait_for_url(f"{url}/ops/referrals")
            assert "ann@company.example" in await page.content()
            assert any(v.startswith(f"{provider.issuer}/authorize?") for v in visited)
            assert any(v.startswith(f"{url}/sso/callback?code=") for v in visited)
        finally:
            await browser.close()
