"""Screenshots of the portal for the README and docs/portal/, showing the demo's sample data.

The browser tests' stack (Temporal dev server, worker, portal and SMTP sink on free ports) is
loaded with `data/` as `make demo` loads it (partners, CPOR claims, the sample referrals), then
Chromium signs in, from the emailed links, as the partner holding the first sample referral (and
accepts it, after its pictures) and as an operator; one more referral in the samples' style, that
no sample partner can take, fills the escalations page. Every page is taken at desktop and
phone width. With `--languages de,ja` only the referral page and the Referral Profile are taken,
in each of those languages (the browser set to it, the language picked in the page header), as
`referral-de.png`, `profile-ja-phone.png`, …

    .venv/bin/python -m tests.portal_screenshots [--out docs/portal] [--languages de,ja]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, async_playwright

import tests.test_browser as browser_tests
from demo import DEMO_PARTNER
from domain.pauses import MAX_PAUSE_DAYS
from tests.browser_stack import OPERATOR, BrowserStack, browser_stack
from tests.test_browser import CHROMIUM, Tab, holder, tab
from tests.test_browser_i18n import sign_in_from_the_email, tab_in

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
FIRST = "FT-2026-000101"  # the first sample referral (data/referrals.json)
ESCALATED = "FT-2026-000107"  # made by this script: no sample partner serves the customer


async def load_demo_data(stack: BrowserStack) -> None:
    partners = json.loads((DATA / "partners.json").read_text())
    latest = (datetime.now(UTC).date() + timedelta(days=MAX_PAUSE_DAYS - 1)).isoformat()
    for p in partners:  # a sample pause the import would refuse today ends at the latest allowed
        if p.get("paused_until") and p["paused_until"] > latest:
            p["paused_until"] = latest
    path = stack.tmp / "partners.json"
    path.write_text(json.dumps(partners))
    await stack.cli("partners", "import", str(path))
    await stack.cli("partners", "claims", "import", str(DATA / "claims.jsonl"))
    await stack.cli("referral", "create", str(DATA / "referrals.json"))


def escalating_referral() -> dict[str, Any]:
    """A sample-style referral nobody in the sample directory can take: the escalation page."""
    first: dict[str, Any] = json.loads((DATA / "referrals.json").read_text())[0]
    customer = {**first["customer"], "name": "Alpine Ski Resorts SpA", "country": "IT"}
    customer.update(contact_email="it@alpine-ski.example", language="it")
    changes = {"customer": customer, "workloads": ["purview"], "active_usage": {}}
    return {**first, "referral_id": ESCALATED, **changes}


async def pick_language(t: Tab, tag: str) -> None:
    """Choose `tag` in the page header's language picker, as a partner would."""
    picker = t.page.locator("form.lang")
    await picker.locator("select").select_option(tag)
    async with t.page.expect_navigation():
        await picker.get_by_role("button").click()
    assert await t.page.get_attribute("html", "lang") == tag


async def translated_pages(
    browser: Browser, stack: BrowserStack, contact: str, languages: list[str]
) -> None:
    """The referral page and the Referral Profile in each language, in a browser set to it."""
    for tag in languages:
        async with tab_in(browser, stack, tag, {"width": 1280, "height": 900}) as t:
            await t.goto(f"/referrals/{FIRST}")
            await sign_in_from_the_email(t, contact, tag)
            await pick_language(t, tag)
            await t.shot(f"referral-{tag}")
            await t.goto("/profile")
            await t.shot(f"profile-{tag}")


async def english_pages(browser: Browser, stack: BrowserStack, contact: str) -> None:
    """Every page in English: the partner's (accepting the first referral after its pictures),
    then the operator's."""
    async with tab(browser, stack) as t:
        await t.goto(f"/referrals/{FIRST}")
        await t.shot("signin")
        await t.sign_in(contact)
        await pick_language(t, "en")  # the sample partner's own language may be another
        await t.page.get_by_role("heading", name=f"Referral {FIRST}").wait_for()
        await t.shot("referral")
        for path, name in [("/referrals", "referrals"), ("/profile", "profile")]:
            await t.goto(path)
            await t.shot(name)
        await t.goto(f"/referrals/{FIRST}")  # accepted: the report has an answer
        await t.page.get_by_role("button", name="Accept").click()
        await t.page.get_by_text("Accepted. Contact the customer").wait_for()
    async with tab(browser, stack) as t:
        await t.goto("/ops/escalations")
        await t.sign_in(OPERATOR)
        await t.page.locator("section", has_text=ESCALATED).wait_for()
        await t.shot("ops-escalations")
        for path, name in [
            ("/ops/referrals", "ops-referrals"),
            (f"/ops/partners/{DEMO_PARTNER}", "ops-partner"),
            ("/ops/reports", "ops-reports"),
        ]:
            await t.goto(path)
            await t.shot(name)


async def take(out: Path, languages: list[str]) -> None:
    os.environ.setdefault("FASTTRACK_ENV", "demo")  # the stack's processes use the demo defaults
    browser_tests.SCREENSHOTS = str(out)  # Tab.shot saves there
    contacts = {
        p["mpn_id"]: p["referral_contact"] for p in json.loads((DATA / "partners.json").read_text())
    }
    with tempfile.TemporaryDirectory(prefix="ft-shots-") as tmp:
        async for stack in browser_stack(Path(tmp)):
            await load_demo_data(stack)
            await stack.create(escalating_referral())
            state = await stack.until(FIRST, lambda s: bool(holder(s)), timeout=60)
            mpn = holder(state)
            await stack.until(ESCALATED, lambda s: s["status"] == "escalated", timeout=60)
            async with async_playwright() as p:
                browser = await p.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
                )
                if languages:
                    await translated_pages(browser, stack, contacts[mpn], languages)
                else:
                    await english_pages(browser, stack, contacts[mpn])
                await browser.close()
    for png in sorted(out.glob("*.png")):
        print(png)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "portal")
    parser.add_argument(
        "--languages", default="", help="comma-separated tags (de,ja): only the translated pages"
    )
    args = parser.parse_args(argv)
    asyncio.run(take(args.out, [tag for tag in args.languages.split(",") if tag]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
