"""The portal's pages in the pseudo-locale (nothing visible left out of the catalogs), and a
German partner who works in German without touching a setting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from temporalio.client import WorkflowHandle

from db.portal_prefs import PreferenceStore
from domain.models import Outcome, Status
from mail import i18n
from mail.display import WORKLOAD_NAMES, history_words
from portal.app import create_app
from portal.session import SESSION_COOKIE
from tests.factories import partner, referral
from tests.harness import Harness
from tests.i18n_support import untranslated, visible_text
from tests.test_portal import portal_client
from tests.test_portal_pages import OPERATOR, csrf_of, sign_in, web  # noqa: F401
from tests.test_workflow import skip_past_due

PARTNER_EMAIL = "referrals-3101@partner.example"


def page_data(*extra: str) -> list[str]:
    """The data pages show: ids, names, addresses, codes and product names."""
    sample = referral("FT-X")
    values = [
        sample.notes,
        sample.requested_by.name,
        sample.requested_by.email,
        *sample.account_team,
    ]
    return [
        *values,
        *(word for value in values for word in value.split()),
        "Partner 3101 GmbH",
        "3101",
        PARTNER_EMAIL,
        OPERATOR,
        "Fabrikam Ltd",
        "it@fabrikam.example",
        "6f1c2d3e-0000-4000-8000-000000000001",
        "FastTrack",
        "Microsoft",
        "MPN",
        "CPOR",
        "ISO",
        "Temporal Web UI",
        "YYYY",
        "FT-",
        *WORKLOAD_NAMES.values(),
        *extra,
    ]


def leftovers(html: str, *extra: str) -> list[str]:
    title = html.split("<title>")[1].split("</title>")[0]
    return untranslated(visible_text(html) + "\n" + title, page_data(*extra))


async def test_every_partner_page_under_the_pseudo_locale_shows_only_catalog_text(
    h: Harness,
    web: httpx.AsyncClient,  # noqa: F811
) -> None:
    web.cookies.set("ft_lang", i18n.PSEUDO)
    signin = await web.get("/signin")
    assert leftovers(signin.text) == []
    await h.partners(partner("3101"))
    handle = await h.start(referral("FT-X-PSEUDO"))
    await h.assigned(handle)
    rid = handle.id
    await PreferenceStore(h.sessions).set_locale(PARTNER_EMAIL, i18n.PSEUDO, datetime.now(UTC))
    await sign_in_quietly(h, web)
    listing = await web.get("/referrals")
    assert listing.status_code == 200 and leftovers(listing.text, rid) == []
    detail = await web.get(f"/referrals/{rid}")
    assert detail.status_code == 200 and leftovers(detail.text, rid, "Jana Richter") == []
    refused = await web.post(
        f"/referrals/{rid}/decline",
        data={"csrf": csrf_of(detail.text), "nonce": "n1", "reason": "other", "note": ""},
    )
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    assert leftovers(refused.text, rid) == []
    profile = await web.get("/profile")
    assert profile.status_code == 200 and leftovers(profile.text, "de, en", "AT, CH") == []


@pytest.mark.own_test_server
async def test_a_partner_that_let_a_referral_go_reads_its_outcome_in_its_language(
    h: Harness,
    web: httpx.AsyncClient,  # noqa: F811
) -> None:
    """The outcome and the reason of an expired and a withdrawn assignment, on the referral
    page in the partner's language (the reasons were stored as English sentences)."""
    web.cookies.set("ft_lang", i18n.PSEUDO)
    await h.partners(partner("3101"))
    expired = await h.start(referral("FT-X-EXPIRED"))
    await h.assigned(expired)
    await skip_past_due(h, expired)
    await h.until(expired, lambda s: s.assignments[0].outcome == Outcome.EXPIRED)
    withdrawn = await h.start(referral("FT-X-WITHDRAWN"))
    await h.assigned(withdrawn)
    await h.operate(withdrawn, "cancel", reason="entered twice")
    await h.until(withdrawn, lambda s: s.status == Status.CANCELLED)
    await PreferenceStore(h.sessions).set_locale(PARTNER_EMAIL, i18n.PSEUDO, datetime.now(UTC))
    await sign_in_quietly(h, web)
    for handle in (expired, withdrawn):
        page = await web.get(f"/referrals/{handle.id}")
        assert page.status_code == 200 and leftovers(page.text, handle.id) == []


async def sign_in_quietly(h: Harness, web: httpx.AsyncClient) -> None:  # noqa: F811
    """Sign in without the English assertions of the shared helper."""
    form = await web.get("/signin", params={"next": "/referrals"})
    before = len(h.sink.messages)
    await web.post(
        "/signin", data={"email": PARTNER_EMAIL, "next": "/referrals", "csrf": csrf_of(form.text)}
    )
    msg = await h.wait_mail(lambda m: m in h.sink.messages[before:])
    body = msg.get_body(("plain",))
    assert body is not None
    link = next(w for w in str(body.get_content()).split() if "/signin/" in w)
    path = link.split("http://portal", 1)[1]
    page = await web.get(path)
    done = await web.post(path, data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303


async def test_a_german_partner_gets_german_emails_and_a_german_portal_without_a_setting(
    h: Harness,
    web: httpx.AsyncClient,  # noqa: F811
) -> None:
    await h.partners(partner("3101", locale=""))  # derived from its home country, DE
    handle = await h.start(referral("FT-X-GERMAN"))
    await h.assigned(handle)
    note = await h.wait_mail(lambda m: "notification@" in str(m["Message-ID"]))
    assert str(note["Content-Language"]) == "de" and str(note["Subject"]).startswith("Neue")
    await sign_in_quietly(h, web)
    page = await web.get(f"/referrals/{handle.id}")
    assert '<html lang="de">' in page.text and page.headers["content-language"] == "de"
    assert "Warum lehnen Sie ab?" in page.text, page.text
    assert "Zeitangaben: Mitteleuropäische Zeit" in page.text
    timeline = page.text.split('class="timeline"')[1].split("</ol>")[0]
    assert "Benefit-Empfehlung für Microsoft Teams" in timeline  # worded in German
    assert "3101 benachrichtigt, Antwort fällig" in timeline and 'lang="en"' not in timeline
    refused = await web.post(
        f"/referrals/{handle.id}/decline",
        data={"csrf": csrf_of(page.text), "nonce": "n2", "reason": "other", "note": ""},
    )
    assert refused.status_code == 422
    assert "Eine Ablehnung mit dem Grund „Sonstiges“ braucht eine Notiz." in refused.text
    assert 'action="/referrals/' in refused.text and "#form-decline" in refused.text
    state = await h.state(handle)
    assert state.current is not None and state.current.outcome == "pending"


async def test_the_operators_reports_page_under_the_pseudo_locale_shows_only_catalog_text(
    h: Harness,
    web: httpx.AsyncClient,  # noqa: F811
) -> None:
    handle, page = await _reports_page(h, web, "FT-X-REPORT", i18n.PSEUDO)
    assert page.status_code == 200 and '<div lang="en">' not in page.text
    assert leftovers(page.text, handle.id, "Partner 3101 GmbH (3101)") == []


async def test_the_operators_reports_page_follows_the_operators_language(
    h: Harness,
    web: httpx.AsyncClient,  # noqa: F811
) -> None:
    _, page = await _reports_page(h, web, "FT-X-REPORT-DE", "de")
    assert page.status_code == 200 and '<html lang="de">' in page.text
    assert "Empfehlungen nach Status" in page.text and "Annahme nach Partner" in page.text
    assert "Kundenkontakt nach der Annahme (2 Werktage)" in page.text


async def _reports_page(
    h: Harness, client: httpx.AsyncClient, referral_id: str, locale: str
) -> tuple[WorkflowHandle[Any, Any], httpx.Response]:
    """An assigned referral, then the operator's Reports page in `locale`."""
    await h.partners(partner("3101"))
    handle = await h.start(referral(referral_id))
    await h.assigned(handle)
    assert await sign_in(h, client, OPERATOR) == "/ops/escalations"
    await PreferenceStore(h.sessions).set_locale(OPERATOR, locale, datetime.now(UTC))
    return handle, await client.get("/ops/reports")


async def test_an_operators_refused_retry_is_answered_in_the_operators_language(
    h: Harness,
    web: httpx.AsyncClient,  # noqa: F811
) -> None:
    """The operator page asks the workflow's own validator first and shows its refusal
    translated (a retry of a referral that is not escalated)."""
    handle, _ = await _reports_page(h, web, "FT-X-RETRY-DE", "de")
    page = await web.get("/ops/escalations")
    r = await web.post(
        f"/ops/escalations/{handle.id}/retry",
        data={"csrf": csrf_of(page.text), "nonce": "n1", "reason": ""},
    )
    assert r.status_code == 409 and "FT-X-RETRY-DE" in r.text
    assert "only escalated referrals can be retried" not in r.text  # German, not English


async def test_the_escalations_page_explains_the_escalating_match_in_the_operators_language(
    h: Harness,
    web: httpx.AsyncClient,  # noqa: F811
) -> None:
    """Why and by which criteria the match that escalated the referral found nobody (the
    page showed the counts of the assignment's earlier match, and English names)."""
    await h.partners(partner("3101"))
    handle = await h.start(referral("FT-X-ESC"))
    await h.assigned(handle)
    await h.act(handle, "decline", "3101", reason="customer_unresponsive")
    await h.until(handle, lambda s: s.status == "escalated")
    assert await sign_in(h, web, OPERATOR) == "/ops/escalations"
    card = (await web.get("/ops/escalations")).text.split(handle.id, 1)[1].split("</section>")[0]
    assert "1 partner considered." in card
    assert "not tried on this referral before: 1" in card
    await PreferenceStore(h.sessions).set_locale(OPERATOR, i18n.PSEUDO, datetime.now(UTC))
    page = await web.get("/ops/escalations")
    assert page.status_code == 200 and leftovers(page.text, handle.id) == []


async def test_a_refused_completion_is_answered_in_the_partners_language(
    h: Harness,
    web: httpx.AsyncClient,  # noqa: F811
) -> None:
    """A value of value-added services with "none sold": the workflow's rule refuses it, and
    the page says so in the partner's language (it showed the workflow's English)."""
    web.cookies.set("ft_lang", i18n.PSEUDO)
    await h.partners(partner("3101"))
    handle = await h.start(referral("FT-X-VAS"))
    await h.assigned(handle)
    await h.act(handle, "accept", "3101")
    await PreferenceStore(h.sessions).set_locale(PARTNER_EMAIL, i18n.PSEUDO, datetime.now(UTC))
    await sign_in_quietly(h, web)
    page = await web.get(f"/referrals/{handle.id}")
    form = {"csrf": csrf_of(page.text), "nonce": "v1", "vas_sold": "no", "vas_value": "10"}
    refused = await web.post(f"/referrals/{handle.id}/complete", data=form)
    assert refused.status_code == 409 and 'role="alert"' in refused.text
    assert leftovers(refused.text, handle.id, "10") == []
    assert (await h.state(handle)).status == "active"


def test_timeline_details_are_worded_from_their_values_and_people_keep_their_words() -> None:
    with i18n.using("de"):
        assert history_words("expired", "4711 did not answer", {"partner": "4711"}) == (
            "4711 hat nicht bis zur Frist geantwortet",
            "",
        )
        note = "Kunde wünscht Termin im Januar"
        assert history_words("contacted", note, {"note": note}) == (note, "")
        # recorded before the values were kept, or a server's error: English, marked so
        assert history_words("expired", "4711 did not answer", {}) == ("4711 did not answer", "en")


async def test_pages_answer_an_unusable_value_and_an_absent_database_in_the_readers_language(
    h: Harness,
    web: httpx.AsyncClient,  # noqa: F811
) -> None:
    """Pages answered these with the validator's English, and with the JSON API's body."""
    await h.partners(partner("3101"))
    await PreferenceStore(h.sessions).set_locale(PARTNER_EMAIL, i18n.PSEUDO, datetime.now(UTC))
    await sign_in_quietly(h, web)
    bad = await web.get("/referrals", params={"page": "0"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert leftovers(bad.text, "page") == []

    away = async_sessionmaker(create_async_engine("postgresql+asyncpg://fasttrack@127.0.0.1:1/x"))
    async with portal_client(create_app(h.settings, h.client, away)) as browser:
        browser.cookies.set("ft_lang", i18n.PSEUDO)
        browser.cookies.set(SESSION_COOKIE, "a-session-it-cannot-look-up")
        page = await browser.get("/referrals")
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] and leftovers(page.text) == []
