"""What was added after the first translation pass, in the pseudo-locale: the partner's
Integrations page and track record, every operator page, the weekly report and the
webhook-disabled email show nothing that skipped the catalogs; a German partner reads them in
German."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx

from activities.operations import compose_report
from activities.webhooks import compose_disabled
from db.audit import Actor
from db.portal_prefs import PreferenceStore
from db.webhooks import Subscription, WebhookStore
from domain.models import ScoreCard
from domain.report import Report
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


def sample_report() -> Report:
    """A week with something in every section of the weekly report."""
    partner_row = {"assigned": 4, "accepted": 2, "declined": 1, "expired": 1}
    return Report(
        generated_at=NOW,
        since=NOW - timedelta(days=7),
        referrals_total=5,
        by_status={"pending": 2, "active": 3},
        assignments_total=4,
        answered_within_sla_pct=75.0,
        expiries=1,
        escalations=2,
        acceptance_rate_by_partner={"3101": {**partner_row, "acceptance_rate": 0.5}},
        declines_by_reason={"partner_at_capacity": 1},
        time_to_accept_median_hours=3.5,
        time_to_accept_p90_hours=20.25,
        open_by_age={"<1d": 1, "1-3d": 2},
        parts_by_status={"active": 1},
        contact_sla={"compliance_pct": 50.0},
        cpor_claimant_referrals=1,
        stuck=[{"referral_id": "FT-STUCK", "status": "pending", "why": "waiting"}],
        floor_crossed=[ScoreCard("3101", 0.31, 0.6, "needs_attention", "0.30-0.35", 6)],
    )


def test_the_weekly_report_under_the_pseudo_locale_shows_only_catalog_text() -> None:
    report = sample_report()
    mail = compose_report(report, NOW - timedelta(days=7), {"3101": "Partner 3101 GmbH"},
                          PSEUDO_SETTINGS, "run-1")  # fmt: skip
    data = [
        "Partner 3101 GmbH", "3101", "FT-STUCK", "waiting", "FastTrack", "Microsoft",
        "CPOR", "SLA", "Temporal Web UI", PSEUDO_SETTINGS.ops_email,
        "python starter.py report --since 2026-11-30", "ReferralStatus", "Escalated",
    ]  # fmt: skip
    assert untranslated(mail.subject, data) == [], mail.subject
    assert untranslated(mail.text, data) == [], mail.text
    assert untranslated(visible_text(mail.html), data) == [], visible_text(mail.html)
    assert mail.message.raw.count(b"Content-Language: en-XA") == 1


def test_the_weekly_report_is_written_in_the_program_locale() -> None:
    settings = replace(Settings(), program_locale="de")
    mail = compose_report(sample_report(), NOW - timedelta(days=7), {}, settings, "run-1")
    assert "Wöchentlicher SLA-Bericht" in mail.subject, mail.subject
    assert '<html lang="de">' in mail.html and b"Content-Language: de" in mail.message.raw


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
        "/ops/reports",
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
