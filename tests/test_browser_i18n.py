"""The portal in German and Japanese in a real browser (Playwright driving Debian's headless
Chromium) against the browser tests' stack: a partner whose language comes from its profile
works from its own-language emails through its own-language pages, at phone width for German.

Every expected text is read from the committed catalogs and must differ from the English, so a
page left in English fails here rather than passing unnoticed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from email.message import EmailMessage

from mail import i18n
from tests.browser_stack import BrowserStack, partner, referral
from tests.test_browser import Tab, browser, notified, pytestmark, stack

__all__ = ["browser", "pytestmark", "stack"]  # the module's fixtures and marks, shared

with contextlib.suppress(ImportError):
    from playwright.async_api import Browser, expect

PHONE = {"width": 375, "height": 812}
NO_SIDEWAYS_SCROLL = (
    "document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth"
)


def said(tag: str, message: str, context: str = "", **params: str | int) -> str:
    """`message` as the catalog of `tag` says it; an untranslated message fails the test."""
    with i18n.using(tag):
        text = i18n._p(context, message, **params) if context else i18n._(message, **params)
    english = message % params if params else message
    assert text != english, f"not translated into {tag}: {message!r}"
    return text


def language_of(msg: EmailMessage) -> str:
    return str(msg["Content-Language"])


@contextlib.asynccontextmanager
async def tab_in(
    browser: Browser, stack: BrowserStack, tag: str, viewport: dict[str, int]
) -> AsyncIterator[Tab]:
    """A tab whose browser asks for `tag` (Accept-Language), like the partner's own."""
    context = await browser.new_context(viewport=viewport, locale=tag)  # type: ignore[arg-type]
    try:
        t = Tab(context, await context.new_page(), stack)
        yield t
        t.assert_clean()
    finally:
        await context.close()


async def assert_fits(t: Tab, tag: str) -> None:
    """The page is in `tag` and nothing on it scrolls sideways."""
    assert await t.page.get_attribute("html", "lang") == tag
    assert await t.page.evaluate(NO_SIDEWAYS_SCROLL), f"{t.page.url} scrolls sideways"


async def sign_in_from_the_email(t: Tab, email: str, tag: str) -> EmailMessage:
    """Sign in through the pages and the emailed link in `tag`; the email is returned."""
    page = t.page
    await assert_fits(t, tag)
    before = len(t.stack.sink.messages)
    await page.get_by_label(said(tag, "Your work email address")).fill(email)
    async with page.expect_navigation():
        await page.get_by_role("button", name=said(tag, "Email me a sign-in link")).click()
    await assert_fits(t, tag)
    msg = await t.stack.mail(lambda m: email in str(m["To"]), after=before)
    await t.goto(t.stack.link_in(msg, r"http://\S+/signin/\S+"))
    await assert_fits(t, tag)
    async with page.expect_navigation(url=lambda url: "/signin" not in url):
        await page.get_by_role("button", name=said(tag, "Sign in"), exact=True).click()
    return msg


async def test_german_partner_at_phone_width_reads_the_refusal_and_then_declines(
    stack: BrowserStack, browser: Browser
) -> None:
    profile = partner("9710001", "DE")
    del profile["locale"]  # derived from the home country, DE
    await stack.import_partners(profile)
    rid = await stack.create(referral("DE"))
    view = await notified(stack, rid, "9710001")
    notification = await stack.mail(lambda m: rid in str(m["Subject"]))
    assert language_of(notification) == "de"
    async with tab_in(browser, stack, "de-DE", PHONE) as t:
        page = t.page
        await t.goto(view)
        assert "/signin" in page.url
        signin = await sign_in_from_the_email(t, "referrals@p9710001.example", "de")
        assert language_of(signin) == "de"
        await page.get_by_role("heading", name=said("de", "Referral %(id)s", id=rid)).wait_for()
        await assert_fits(t, "de")

        form = page.locator("#form-decline")
        decline = said("de", "Decline", "action")
        await form.get_by_label(said("de", "Other", "decline reason label"), exact=True).check()
        async with page.expect_navigation():
            await form.get_by_role("button", name=decline).click()
        assert page.url.endswith("#form-decline")  # the page lands on the form
        not_recorded = "Your answer was not recorded: see “%(action)s” below."
        summary = page.get_by_role("link", name=said("de", not_recorded, action=decline))
        await expect(summary).to_have_count(1)
        refusal = form.get_by_text(said("de", "A decline with reason “Other” needs a note."))
        await expect(refusal.first).to_be_in_viewport()
        await assert_fits(t, "de")
        assert (await stack.show(rid))["status"] == "pending"

        form = page.locator("#form-decline")
        await form.get_by_label(said("de", "Other", "decline reason label"), exact=True).check()
        await form.get_by_label(said("de", "Note"), exact=True).fill("Kunde plant erst 2027.")
        async with page.expect_navigation():
            await form.get_by_role("button", name=decline).click()
        done = said("de", "Declined. The referral goes to another partner.", "done")
        await expect(page.get_by_text(done)).to_be_in_viewport()
        await assert_fits(t, "de")
        for path in ("/referrals", "/profile"):
            await t.goto(path)
            await assert_fits(t, "de")
    state = await stack.until(rid, lambda s: s["assignments"][0]["outcome"] == "declined")
    assert state["assignments"][0]["reason"] == "other"


async def test_japanese_partner_signs_in_and_accepts(stack: BrowserStack, browser: Browser) -> None:
    await stack.import_partners(partner("9720001", "JP", locale="ja", timezone="Asia/Tokyo"))
    rid = await stack.create(referral("JP"))
    view = await notified(stack, rid, "9720001")
    async with tab_in(browser, stack, "ja-JP", {"width": 1280, "height": 900}) as t:
        page = t.page
        await t.goto(view)
        signin = await sign_in_from_the_email(t, "referrals@p9720001.example", "ja")
        assert language_of(signin) == "ja"
        await page.get_by_role("heading", name=said("ja", "Referral %(id)s", id=rid)).wait_for()
        await assert_fits(t, "ja")
        async with page.expect_navigation():
            await page.get_by_role("button", name=said("ja", "Accept", "action")).click()
        done = said(
            "ja",
            "Accepted. Contact the customer, with the account team, within two business days.",
            "done",
        )
        await expect(page.get_by_text(done)).to_be_visible()
        await assert_fits(t, "ja")
    await stack.until(rid, lambda s: s["status"] == "active")
