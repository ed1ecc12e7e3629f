"""What was added after the first translation pass, in the pseudo-locale: the partner's
Integrations page and track record, the operator pages, the API reference's frame and the
webhook-disabled email show nothing that skipped the catalogs; a German partner reads the
email in German."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from activities.webhooks import compose_disabled
from db.audit import Actor
from db.portal_prefs import PreferenceStore
from db.webhooks import Subscription, WebhookStore
from domain.webhooks import EVENT_TYPES
from mail import i18n
from runtime.sealing import Sealer
from settings import Settings
from tests.factories import partner, referral
from tests.harness import Harness
from tests.i18n_support import untranslated, visible_text
from tests.test_i18n_portal import PARTNER_EMAIL, leftovers, page_data
from tests.test_portal_pages import OPERATOR, csrf_of, web  # noqa: F401
from tests.test_watchdog import _one_stuck_referral


def _pseudo_settings() -> Settings:
    """Settings whose PROGRAM_LOCALE is the pseudo-locale (which validation rightly refuses)."""
    settings = Settings()
    object.__setattr__(settings, "program_locale", i18n.PSEUDO)
    return settings


PSEUDO_SETTINGS = _pseudo_settings()
NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
SUB = Subscription(
    7, "3101", "https://hooks.partner.example/ft", [], NOW, "partner", None, NOW, "gave up"
)


def test_the_webhook_disabled_email_under_the_pseudo_locale_shows_only_catalog_text() -> None:
    subject, text, html = compose_disabled(SUB, "Partner 3101 GmbH", "ev-1", 24, i18n.PSEUDO,
                                           PSEUDO_SETTINGS)  # fmt: skip
    data = [
        "Partner 3101 GmbH", "3101", SUB.url, "ev-1", "FastTrack", "MPN ID", "MPN",
        PSEUDO_SETTINGS.ops_email, PSEUDO_SETTINGS.portal_url + "/integrations",
        "python starter.py partners webhooks rotate ID",
        "GET /api/referrals?updated_since=...", "GET /api/referrals?updated_since=…",
    ]  # fmt: skip
    for shown in (subject, text, visible_text(html)):
        assert untranslated(shown, data) == [], shown


def test_a_german_partner_reads_the_webhook_disabled_email_in_german() -> None:
    subject, text, html = compose_disabled(SUB, "Partner 3101 GmbH", "ev-1", 24, "de", Settings())
    assert subject.startswith("FastTrack-Webhook"), subject
    assert "deaktiviert" in text and '<html lang="de">' in html


async def test_the_integrations_page_and_every_operator_page_show_only_catalog_text(
    h: Harness,
    web: httpx.AsyncClient,  # noqa: F811
) -> None:
    await h.partners(partner("3101"))
    handle = await h.start(referral("FT-X-MORE"))
    await h.assigned(handle)
    rid = handle.id
    prefs = PreferenceStore(h.sessions)
    await prefs.set_locale(PARTNER_EMAIL, i18n.PSEUDO, datetime.now(UTC))
    store = WebhookStore(h.sessions, Sealer.for_settings(h.settings))
    added = await store.add(
        "3101", SUB.url, list(EVENT_TYPES[:2]), Actor("test"), datetime.now(UTC)
    )
    assert added is not None
    await sign_in_as(h, web, PARTNER_EMAIL)
    page = await web.get("/integrations")
    assert SUB.url in page.text
    assert page.status_code == 200 and leftovers(page.text, SUB.url, *EVENT_TYPES) == []
    refused = await web.post(
        "/integrations/webhooks", data={"csrf": csrf_of(page.text), "url": "ftp://x"}
    )
    assert refused.status_code == 422 and leftovers(refused.text, SUB.url, *EVENT_TYPES) == []
    rotated = await web.post(
        f"/integrations/webhooks/{added[0].id}/rotate", data={"csrf": csrf_of(page.text)}
    )
    assert rotated.status_code == 200 and 'id="webhook-secret"' in rotated.text
    secret = rotated.text.split('id="webhook-secret">')[1].split("<")[0]
    assert leftovers(rotated.text, SUB.url, secret, *EVENT_TYPES) == []
    profile = await web.get("/profile")
    assert profile.status_code == 200
    track_record = visible_text(profile.text.split('id="track-record"')[1])
    assert untranslated(track_record, page_data()) == []
    detail = await web.get(f"/referrals/{rid}")
    accepted = await web.post(
        f"/referrals/{rid}/accept", data={"csrf": csrf_of(detail.text), "nonce": "a1"}
    )
    assert accepted.status_code in (200, 303), accepted.text
    await h.until(handle, lambda s: s.current is not None and s.current.outcome == "accepted")
    held = await web.get(f"/referrals/{rid}")
    assert "account_team_contacted" in held.text
    assert leftovers(held.text, rid, "Jana Richter") == []
    web.cookies.clear()
    await _one_stuck_referral(h.sessions)
    await prefs.set_locale(OPERATOR, i18n.PSEUDO, datetime.now(UTC))
    await sign_in_as(h, web, OPERATOR)
    assert "FT-STUCK" in (await web.get("/ops/escalations")).text
    for path in (
        "/ops/escalations",
        "/ops/referrals",
        "/ops/partners",
        "/ops/partners/3101",
        "/docs",
    ):
        shown = await web.get(path)
        assert shown.status_code == 200, path
        data = (rid, "DE", "en", "de", "AT", "CH", "Europe/Berlin", "FT-STUCK")
        assert leftovers(shown.text, *data) == [], path


async def sign_in_as(h: Harness, web: httpx.AsyncClient, email: str) -> None:  # noqa: F811
    """Sign in from the emailed link, whatever the language of its pages."""
    form = await web.get("/signin")
    before = len(h.sink.messages)
    await web.post("/signin", data={"email": email, "next": "/", "csrf": csrf_of(form.text)})
    msg = await h.wait_mail(lambda m: m in h.sink.messages[before:] and email in str(m["To"]))
    body = msg.get_body(("plain",))
    assert body is not None
    link = next(w for w in str(body.get_content()).split() if "/signin/" in w)
    path = link.split("http://portal", 1)[1]
    page = await web.get(path)
    done = await web.post(path, data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303
