"""Operators' single sign-on against a real OpenID Connect provider run inside the test
(HTTP, RSA keys, tokens signed by joserfc): a good sign-in, a wrong audience, an expired
token, a replayed state, a user without the operator claim; the sign-in page's link."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest_asyncio
from pydantic import SecretStr

from portal import create_app
from portal.oidc import is_operator
from tests.harness import Harness
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider


@pytest_asyncio.fixture
async def provider() -> AsyncIterator[Provider]:
    p = await Provider().start()
    yield p
    await p.stop()


@pytest_asyncio.fixture
async def web(h: Harness, provider: Provider) -> AsyncIterator[httpx.AsyncClient]:
    settings = replace(
        h.settings,
        portal_url="http://portal",
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=SecretStr(CLIENT_SECRET),
        oidc_operator_claim="groups=fasttrack-ops",
    )
    transport = httpx.ASGITransport(app=create_app(settings, h.client, h.sessions))
    async with httpx.AsyncClient(transport=transport, base_url="http://portal") as http:
        yield http


async def round_trip(web: httpx.AsyncClient, next_path: str = "/ops/referrals") -> httpx.Response:
    """Start at the portal, follow the issuer's redirect (real HTTP), come back."""
    start = await web.get("/sso/start", params={"next": next_path})
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    assert query["redirect_uri"] == ["http://portal/sso/callback"]
    async with httpx.AsyncClient() as outside:
        at_issuer = await outside.get(authorize)
    assert at_issuer.status_code == 302, at_issuer.text
    back = urlsplit(at_issuer.headers["location"])
    return await web.get(f"{back.path}?{back.query}")


async def test_the_sign_in_page_offers_the_company_account(web: httpx.AsyncClient) -> None:
    page = await web.get("/signin", params={"next": "/ops/reports"})
    assert "Sign in with your company account" in page.text
    assert 'href="/sso/start?next=/ops/reports"' in page.text


async def test_an_operator_signs_in_with_the_company_account(web: httpx.AsyncClient) -> None:
    done = await round_trip(web)
    assert done.status_code == 303 and done.headers["location"] == "/ops/referrals"
    page = await web.get("/ops/referrals")
    assert page.status_code == 200 and "ann@company.example" in page.text


async def test_a_wrong_audience_is_refused(web: httpx.AsyncClient, provider: Provider) -> None:
    provider.audience = "another-app"
    done = await round_trip(web)
    assert done.status_code == 403 and "not valid" in done.text
    assert (await web.get("/ops/referrals")).status_code != 200


async def test_an_expired_token_is_refused(web: httpx.AsyncClient, provider: Provider) -> None:
    provider.lifetime_s = -60
    done = await round_trip(web)
    assert done.status_code == 403 and "expired" in done.text.lower()


async def test_a_replayed_state_is_refused(web: httpx.AsyncClient) -> None:
    start = await web.get("/sso/start")
    async with httpx.AsyncClient() as outside:
        back = urlsplit((await outside.get(start.headers["location"])).headers["location"])
    first = await web.get(f"{back.path}?{back.query}")
    assert first.status_code == 303
    web.cookies.set("ft_sso_state", parse_qs(back.query)["state"][0], path="/sso")
    again = await web.get(f"{back.path}?{back.query}")
    assert again.status_code == 410 and "already used" in again.text


async def test_a_state_from_another_browser_is_refused(web: httpx.AsyncClient) -> None:
    start = await web.get("/sso/start")
    async with httpx.AsyncClient() as outside:
        back = urlsplit((await outside.get(start.headers["location"])).headers["location"])
    web.cookies.clear()
    done = await web.get(f"{back.path}?{back.query}")
    assert done.status_code == 400 and "did not start in this browser" in done.text


async def test_a_user_without_the_operator_claim_is_refused(
    web: httpx.AsyncClient, provider: Provider
) -> None:
    provider.user = {**provider.user, "groups": ["staff"]}
    done = await round_trip(web)
    assert done.status_code == 403 and "may not use the operator pages" in done.text
    assert (await web.get("/ops/referrals")).status_code != 200


async def test_without_single_sign_on_there_is_no_company_account_link(h: Harness) -> None:
    transport = httpx.ASGITransport(app=create_app(h.settings, h.client, h.sessions))
    async with httpx.AsyncClient(transport=transport, base_url="http://portal") as web:
        assert "company account" not in (await web.get("/signin")).text
        assert (await web.get("/sso/start")).status_code == 404


def test_without_the_claim_setting_operator_emails_decide(h: Harness) -> None:
    by_list = replace(
        h.settings, oidc_operator_claim=None, operator_emails=("ann@company.example",)
    )
    claims = {"sub": "u-1", "email": "Ann@Company.example", "email_verified": True}
    assert is_operator(claims, by_list) == "ann@company.example"
    assert is_operator({**claims, "email_verified": False}, by_list) is None  # not verified
    assert is_operator({**claims, "email": "bob@company.example"}, by_list) is None
    by_claim = replace(by_list, oidc_operator_claim="role=fasttrack-ops")
    assert is_operator(claims, by_claim) is None  # the claim decides once it is set
    assert is_operator({**claims, "role": "fasttrack-ops"}, by_claim) == "ann@company.example"
