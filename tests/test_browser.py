"""The portal in a real browser (Playwright driving Debian's headless Chromium) against a real
worker, portal, SMTP sink and Temporal dev server. Every flow starts from an email the sink
received. Skipped, saying so, where Chromium is not installed."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import update

from db.engine import open_database
from db.portal_models import SignInLink
from tests.browser_stack import OPERATOR, BrowserStack, browser_stack, partner, referral

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/lib/chromium/chromium")
SCREENSHOTS = os.environ.get("PORTAL_SCREENSHOTS", "")  # a folder: also save screenshots

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"browser tests skipped: no Chromium at {CHROMIUM} (apt-get install -y chromium)",
    ),
]

with contextlib.suppress(ImportError):
    from playwright.async_api import Browser, BrowserContext, Page, async_playwright


@pytest_asyncio.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BrowserStack]:
    async for s in browser_stack(tmp_path_factory.mktemp("browser")):
        yield s


@pytest_asyncio.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        await b.close()


# Chromium logs every 4xx page as a console error; pages answered 404/409 on purpose are not
# errors, so failed loads are judged by the response listener (sub-resources only) instead.
HTTP_STATUS_LOG = "Failed to load resource: the server responded with a status of"


class Tab:
    """A browser tab that records console errors, uncaught page errors (CSP violations among
    them) and failed sub-resource loads."""

    def __init__(self, context: BrowserContext, page: Page, stack: BrowserStack) -> None:
        self.context, self.page, self.stack = context, page, stack
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type == "error" and not message.text.startswith(HTTP_STATUS_LOG):
            self.errors.append(message.text)

    def _response(self, response: Any) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            self.errors.append(f"{response.status} {response.url}")

    async def goto(self, path: str) -> Any:
        url = path if path.startswith("http") else f"{self.stack.url}{path}"
        return await self.page.goto(url)

    async def sign_in(self, email: str) -> None:
        """Fill the sign-in form shown, follow the emailed link, and wait until the portal
        has led past sign-in (each navigation finishes before the next one starts)."""
        before = len(self.stack.sink.messages)
        await self.page.get_by_label("Your work email address").fill(email)
        await self.page.get_by_role("button", name="Email me a sign-in link").click()
        await self.page.get_by_text("a sign-in link is on its way").wait_for()
        msg = await self.stack.mail(lambda m: email in str(m["To"]), after=before)
        await self.goto(self.stack.link_in(msg, r"http://\S+/signin/\S+"))
        await self.page.get_by_role("button", name="Sign in").click()
        await self.page.wait_for_url(lambda url: "/signin" not in url)

    async def shot(self, name: str) -> None:
        if not SCREENSHOTS:
            return
        folder = Path(SCREENSHOTS)
        folder.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        await self.page.set_viewport_size({"width": 390, "height": 844})
        await self.page.screenshot(path=str(folder / f"{name}-phone.png"), full_page=True)
        await self.page.set_viewport_size({"width": 1280, "height": 900})

    def assert_clean(self) -> None:
        assert self.errors == [], self.errors


@contextlib.asynccontextmanager
async def tab(browser: Browser, stack: BrowserStack) -> AsyncIterator[Tab]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        t = Tab(context, await context.new_page(), stack)
        yield t
        t.assert_clean()
    finally:
        await context.close()


async def notified(stack: BrowserStack, rid: str, mpn: str) -> str:
    msg = await stack.mail(lambda m: rid in str(m["Subject"]) and f"p{mpn}.example" in str(m["To"]))
    return stack.link_in(msg, rf"http://\S+/referrals/{rid}")


def holder(state: dict[str, Any]) -> str:
    return str(state["assignments"][-1]["partner"]) if state["assignments"] else ""


async def test_partner_goes_from_the_email_to_engagement_complete(
    stack: BrowserStack, browser: Browser
) -> None:
    await stack.import_partners(partner("9100001", "DE"))
    rid = await stack.create(referral("DE"))
    view = await notified(stack, rid, "9100001")
    async with tab(browser, stack) as t:
        await t.goto(view)  # View details: through sign-in, then back to the referral
        assert "/signin" in t.page.url
        await t.shot("signin")
        await t.sign_in("referrals@p9100001.example")
        await t.page.get_by_role("heading", name=f"Referral {rid}").wait_for()
        assert "Fabrikam Browser AG" in await t.page.content()
        await t.shot("referral")
        page = t.page
        await page.get_by_role("button", name="Accept").click()
        await page.get_by_text("Accepted. Contact the customer").wait_for()
        for label, done in [
            ("Record customer contact", "Customer contact recorded."),
            ("Record kick-off", "Kick-off recorded."),
            ("Record CPOR claim", "CPOR claim recorded."),
        ]:
            await page.get_by_role("button", name=label).click()
            await page.get_by_text(done).wait_for()
        form = page.locator("#form-complete")
        await form.get_by_label("Yes").check()
        await form.get_by_label("Estimated value in USD (optional)").fill("12000")
        await form.get_by_label("Notes for the Microsoft team").fill("Teams Phone live.")
        await form.get_by_role("button", name="Mark engagement complete").click()
        await page.get_by_text("Engagement complete. Thank you.").wait_for()
        await t.goto("/referrals")
        await t.shot("referrals")
        await t.goto("/profile")
        await t.shot("profile")
    state = await stack.until(rid, lambda s: s["status"] == "completed")
    assert state["completion"]["vas_value"] == 12000


async def test_refused_decline_changes_nothing_then_a_granted_one_hides_the_customer(
    stack: BrowserStack, browser: Browser
) -> None:
    await stack.import_partners(partner("9200001", "FR"), partner("9200002", "FR"))
    rid = await stack.create(referral("FR"))
    view = await notified(stack, rid, "9200001")
    other = await stack.create(referral("FR", workloads=["teams"], active_usage={}))
    await notified(stack, other, "9200002")
    async with tab(browser, stack) as t:
        await t.goto(view)
        await t.sign_in("referrals@p9200001.example")
        form = t.page.locator("#form-decline")
        await form.get_by_label("The customer prefers the FastTrack Center").check()
        await form.get_by_role("button", name="Decline").click()
        answer = t.page.locator("#decline-answer")
        await answer.wait_for()
        assert "FastTrack" in await answer.inner_text()
        assert (await stack.show(rid))["status"] == "pending"
        form = t.page.locator("#form-decline")
        await form.get_by_label("The customer does not respond").check()
        await form.get_by_role("button", name="Decline").click()
        await t.page.get_by_text("Declined. The referral goes to another partner.").wait_for()
        await stack.until(rid, lambda s: holder(s) == "9200002")
        await t.page.reload()
        content = await t.page.content()
        assert "no longer yours" in content and "Fabrikam Browser AG" not in content
        assert "it@fabrikam-browser.example" not in content
        response = await t.goto(f"/referrals/{other}")  # another partner's referral
        assert response.status == 404


async def test_profile_edit_changes_the_next_match_and_pause_hides_the_partner(
    stack: BrowserStack, browser: Browser
) -> None:
    await stack.import_partners(
        partner("9300001", "IT", languages=["en"]), partner("9300002", "IT", languages=["it"])
    )
    first = await stack.create(referral("IT", customer=_customer("IT", "it")))
    await notified(stack, first, "9300002")
    async with tab(browser, stack) as t:
        await t.goto("/profile")
        await t.sign_in("referrals@p9300001.example")
        await t.page.get_by_label("Languages served").fill("en, it")
        await t.page.get_by_role("button", name="Save profile").click()
        await t.page.get_by_text("Referral Profile saved").wait_for()
        second = await stack.create(referral("IT", customer=_customer("IT", "it")))
        await notified(stack, second, "9300001")

        until = (datetime.now(UTC).date() + timedelta(days=10)).isoformat()
        await t.page.get_by_label("Pause until (at most 90 days ahead)").fill(until)
        await t.page.get_by_role("button", name="Pause referrals").click()
        await t.page.get_by_text("Referrals paused.").wait_for()
        third = await stack.create(referral("IT", customer=_customer("IT", "it")))
        await notified(stack, third, "9300002")
        await t.page.get_by_role("button", name="Resume referrals now").click()
        await t.page.get_by_text("Referrals resumed.").wait_for()


def _customer(country: str, language: str) -> dict[str, Any]:
    customer: dict[str, Any] = referral(country)["customer"]
    return {**customer, "language": language}


async def test_operator_retries_an_escalated_referral(
    stack: BrowserStack, browser: Browser
) -> None:
    rid = await stack.create(referral("ES", workloads=["purview"], active_usage={}))
    await stack.mail(lambda m: rid in str(m["Subject"]) and "ops@" in str(m["To"]))
    await stack.import_partners(partner("9400001", "ES", workloads=["purview"]))
    async with tab(browser, stack) as t:
        await t.goto("/ops/escalations")
        await t.sign_in(OPERATOR)
        section = t.page.locator("section", has_text=rid)
        await section.wait_for()
        await t.shot("ops-escalations")
        await section.get_by_role("button", name="Retry matching").click()
        await t.page.get_by_text(f"{rid}:").wait_for()
        await stack.until(rid, lambda s: holder(s) == "9400001")
        for path, name in [
            ("/ops/referrals", "ops-referrals"),
            ("/ops/partners/9400001", "ops-partner"),
            ("/ops/reports", "ops-reports"),
        ]:
            await t.goto(path)
            await t.shot(name)


async def test_csrf_less_post_and_expired_sign_in_link_are_refused(
    stack: BrowserStack, browser: Browser
) -> None:
    await stack.import_partners(partner("9500001", "PL"))
    async with tab(browser, stack) as t:
        await t.goto("/signin")
        before = len(stack.sink.messages)
        await t.page.get_by_label("Your work email address").fill("referrals@p9500001.example")
        await t.page.get_by_role("button", name="Email me a sign-in link").click()
        await t.page.get_by_text("a sign-in link is on its way").wait_for()
        msg = await stack.mail(lambda m: "p9500001" in str(m["To"]), after=before)
        link = stack.link_in(msg, r"http://\S+/signin/\S+")
        engine, sessions = await open_database(stack.database_url)
        try:
            async with sessions.begin() as session:
                past = datetime.now(UTC) - timedelta(minutes=1)
                await session.execute(update(SignInLink).values(expires_at=past))
        finally:
            await engine.dispose()
        await t.goto(link)
        await t.page.get_by_text("This sign-in link has expired.").wait_for()

        await t.sign_in("referrals@p9500001.example")
        await t.page.get_by_role("heading", name="Referrals").wait_for()
        refused = await t.context.request.post(
            f"{stack.url}/profile/pause", form={"until": "2099-01-01"}
        )
        assert refused.status == 403
        cross = await t.context.request.post(f"{stack.url}/signin", form={"email": "a@b.example"})
        assert cross.status == 403


async def test_keyboard_alone_accepts_a_referral(stack: BrowserStack, browser: Browser) -> None:
    await stack.import_partners(partner("9600001", "NL"))
    rid = await stack.create(referral("NL"))
    view = await notified(stack, rid, "9600001")
    async with tab(browser, stack) as t:
        await t.goto(view)
        await t.page.get_by_label("Your work email address").focus()
        before = len(stack.sink.messages)
        await t.page.keyboard.type("referrals@p9600001.example")
        await t.page.keyboard.press("Enter")
        await t.page.get_by_text("a sign-in link is on its way").wait_for()  # submit finished
        msg = await stack.mail(lambda m: "p9600001" in str(m["To"]), after=before)
        await t.goto(stack.link_in(msg, r"http://\S+/signin/\S+"))
        await _tab_to(t.page, "Sign in")
        await t.page.keyboard.press("Enter")
        await t.page.get_by_role("heading", name=f"Referral {rid}").wait_for()
        await _tab_to(t.page, "Accept")
        await t.page.keyboard.press("Enter")
        await t.page.get_by_text("Accepted. Contact the customer").wait_for()
    await stack.until(rid, lambda s: s["status"] == "active")


async def _tab_to(page: Page, label: str, limit: int = 80) -> None:
    for _ in range(limit):
        await page.keyboard.press("Tab")
        focused = await page.evaluate("document.activeElement && document.activeElement.innerText")
        if (focused or "").strip() == label:
            return
    raise AssertionError(f"no focusable {label!r} reached by Tab")


async def test_a_german_partner_declines_in_german_at_phone_width(
    stack: BrowserStack, browser: Browser
) -> None:
    await stack.import_partners(partner("9800001", "DE", locale=None))  # from home country
    rid = await stack.create(referral("DE"))
    view = await notified(stack, rid, "9800001")
    context = await browser.new_context(
        viewport={"width": 375, "height": 812}, locale="de-DE", is_mobile=True
    )
    try:
        t = Tab(context, await context.new_page(), stack)
        page = t.page
        await t.goto(view)
        assert await page.locator("html").get_attribute("lang") == "de"
        await no_horizontal_scroll(page)
        before = len(stack.sink.messages)
        await page.get_by_label("Ihre geschäftliche E-Mail-Adresse").fill(
            "referrals@p9800001.example"
        )
        await page.get_by_role("button", name="Anmeldelink per E-Mail senden").click()
        await page.get_by_text("ein Anmeldelink unterwegs").wait_for()
        msg = await stack.mail(lambda m: "p9800001" in str(m["To"]), after=before)
        assert str(msg["Content-Language"]) == "de"
        await t.goto(stack.link_in(msg, r"http://\S+/signin/\S+"))
        await page.get_by_role("button", name="Anmelden").click()
        await page.get_by_role("heading", name=f"Empfehlung {rid}").wait_for()
        await no_horizontal_scroll(page)
        await t.shot("referral-de")
        await t.goto("/profile")
        await no_horizontal_scroll(page)
        await t.shot("profile-de")
        await page.set_viewport_size({"width": 375, "height": 812})
        await t.goto(f"/referrals/{rid}")
        form = page.locator("#form-decline")
        await form.get_by_label("Sonstiges").check()
        await form.get_by_role("button", name="Ablehnen").click()
        await page.get_by_text(
            "Eine Ablehnung mit dem Grund „Sonstiges“ braucht eine Notiz."
        ).first.wait_for()
        assert page.url.endswith("#form-decline")  # the answer lands on the form
        await no_horizontal_scroll(page)
        assert (await stack.show(rid))["status"] == "pending"
        form = page.locator("#form-decline")
        await form.get_by_label("Sonstiges").check()
        await form.get_by_label("Notiz", exact=True).fill("Kein Team frei vor Q3.")
        await form.get_by_role("button", name="Ablehnen").click()
        await page.get_by_text(
            "Abgelehnt. Die Empfehlung geht an einen anderen Partner."
        ).wait_for()
        await no_horizontal_scroll(page)
        t.assert_clean()
    finally:
        await context.close()


async def no_horizontal_scroll(page: Page) -> None:
    wide = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0, f"{page.url} scrolls {wide}px sideways"


async def test_a_japanese_partner_signs_in_and_accepts_in_japanese(
    stack: BrowserStack, browser: Browser
) -> None:
    await stack.import_partners(
        partner("9900001", "JP", locale=None, timezone="Asia/Tokyo", countries=["DE"])
    )
    rid = await stack.create(referral("DE"))
    view = await notified(stack, rid, "9900001")
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    try:
        t = Tab(context, await context.new_page(), stack)
        page = t.page
        await t.goto(view)
        before = len(stack.sink.messages)
        await page.get_by_label("勤務先のメール アドレス").fill("referrals@p9900001.example")
        await page.get_by_role("button", name="サインイン リンクをメールで受け取る").click()
        await page.get_by_text("サインイン リンクを送信しました").wait_for()
        msg = await stack.mail(lambda m: "p9900001" in str(m["To"]), after=before)
        assert str(msg["Content-Language"]) == "ja"
        await t.goto(stack.link_in(msg, r"http://\S+/signin/\S+"))
        await page.get_by_role("button", name="サインイン").click()
        await page.get_by_role("heading", name=f"紹介 {rid}").wait_for()
        assert "JST" in await page.content() or "日本標準時" in await page.content()
        await t.shot("referral-ja")
        await t.goto("/profile")
        await t.shot("profile-ja")
        await t.goto(f"/referrals/{rid}")
        await page.locator("#form-accept").get_by_role("button", name="承諾").click()
        await page.get_by_text("承諾しました。2 営業日以内に").wait_for()
        t.assert_clean()
    finally:
        await context.close()
    await stack.until(rid, lambda s: s["assignments"][-1]["outcome"] == "accepted")
