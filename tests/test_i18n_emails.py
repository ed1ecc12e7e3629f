"""Every email kind in every language: nothing left in English under the pseudo-locale, the
partner's language and time zone for partner emails, PROGRAM_LOCALE for the others, and the
dates and numbers of de, ja and pt-BR as their readers write them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from domain.locales import LOCALES
from domain.models import EmailRequest
from mail import compose as compose_module
from mail import i18n, samples
from mail import weekly_report as weekly_module
from mail.compose import KINDS, PARTNER_KINDS, compose, render
from mail.display import WORKLOAD_NAMES
from mail.report_page import render_html, report_view
from mail.weekly_report import ReportEmail, compose_report
from portal.render import env as portal_env
from settings import Settings
from tests import report_samples
from tests.i18n_support import untranslated, visible_text

SETTINGS = Settings(program_currency="EUR")
LINKS = samples.links()


def in_language(kind: str, tag: str, referral_type: str = "benefit") -> EmailRequest:
    request = samples.request(kind, referral_type)
    partner = request.partner and replace(request.partner, locale=tag)
    return replace(request, partner=partner)


def data_of(request: EmailRequest) -> list[str]:
    """What an email shows that is the referral's data, not the program's words."""
    ref = request.referral
    values = [
        ref.referral_id,
        ref.customer.name,
        ref.customer.contact_email,
        ref.notes,
        ref.requested_by.name,
        ref.requested_by.email,
        *ref.account_team,
        *WORKLOAD_NAMES.values(),
        *LINKS.values(),
        f"{LINKS['view']}#form-account_team_contacted",  # the contact reminder's link
        SETTINGS.ops_email,
        SETTINGS.portal_url,
        "FastTrack",  # the program's name, never translated
        "Microsoft",
    ]
    if request.partner:
        values += [request.partner.name, request.partner.referral_contact, request.partner.mpn_id]
    skip = ("reason", "vas_sold", "vas_value", "due_local", "kind", "message")
    values += [v for k, v in request.detail.items() if k not in skip]
    values += [k.replace("_", " ").capitalize() for k in request.detail]  # escalation's keys
    words = [word for value in values for word in value.split()]
    return values + words  # the lines text emails wrap


@pytest.mark.parametrize("kind", KINDS)
def test_every_email_kind_under_the_pseudo_locale_shows_only_catalog_text(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = in_language(kind, i18n.PSEUDO)
    monkeypatch.setattr(compose_module, "locale_of", lambda request, settings: i18n.PSEUDO)
    mail = compose(request, SETTINGS, LINKS)
    data = data_of(request)
    assert untranslated(mail.subject, data) == [], mail.subject
    assert untranslated(mail.text, data) == [], mail.text
    assert untranslated(visible_text(mail.html), data) == [], visible_text(mail.html)


def test_the_sign_in_email_under_the_pseudo_locale_shows_only_catalog_text() -> None:
    context = {
        "subject": "x",
        "link": "http://portal/signin/abc",
        "minutes": 15,
        "email": "someone@partner.example",
        "tone": "benefit",
        "banner": "",
        "locale": i18n.PSEUDO,
    }
    with i18n.using(i18n.PSEUDO):
        text, html = render("portal/signin_email", context)
    data = ["someone@partner.example", "http://portal/signin/abc", "FastTrack"]
    assert untranslated(text, data) == [] and untranslated(visible_text(html), data) == []


@pytest.mark.parametrize("tag", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_each_email_kind_renders_in_each_language(kind: str, tag: str) -> None:
    settings = replace(SETTINGS, program_locale=tag)
    mail = compose(in_language(kind, tag), settings, LINKS)
    assert mail.message["Content-Language"] == tag
    assert f'<html lang="{tag}">' in mail.html
    if tag != "en" and kind != "delivery_failure":
        english = compose(in_language(kind, "en"), replace(SETTINGS, program_locale="en"), LINKS)
        assert mail.subject != english.subject


def test_partner_emails_follow_the_partner_and_the_others_the_program_locale() -> None:
    settings = replace(SETTINGS, program_locale="fr")
    for kind in KINDS:
        mail = compose(in_language(kind, "ja"), settings, LINKS)
        expected = "ja" if kind in PARTNER_KINDS else "fr"
        assert mail.message["Content-Language"] == expected, kind


def test_a_german_notification_has_german_dates_and_numbers() -> None:
    mail = compose(in_language("notification", "de"), SETTINGS, LINKS)
    for body in (mail.text, mail.html):
        assert "Dienstag, 1. Dezember 2026, 15:00 MEZ" in body
        assert "2.400" in body and "Deutschland (DE)" in body
        assert "Microsoft Teams" in body
    assert mail.subject.startswith("Neue")


def test_a_japanese_notification_has_japanese_dates_and_numbers() -> None:
    request = in_language("notification", "ja")
    assert request.partner is not None
    request = replace(request, partner=replace(request.partner, timezone="Asia/Tokyo"))
    mail = compose(request, SETTINGS, LINKS)
    for body in (mail.text, mail.html):
        assert "2026年12月1日火曜日 23:00 JST" in body
        assert "2,400" in body and "ドイツ (DE)" in body


def test_a_brazilian_notification_has_brazilian_dates_and_numbers() -> None:
    request = in_language("notification", "pt-BR")
    assert request.partner is not None
    request = replace(request, partner=replace(request.partner, timezone="America/Sao_Paulo"))
    mail = compose(request, SETTINGS, LINKS)
    for body in (mail.text, mail.html):
        assert "terça-feira, 1 de dezembro de 2026 11:00 BRT" in body
        assert "2.400" in body and "Alemanha (DE)" in body


@pytest.mark.parametrize(
    ("tag", "amount"), [("de", "12.000\xa0€"), ("ja", "€12,000"), ("pt-BR", "€\xa012.000")]
)
def test_value_added_services_are_shown_in_the_program_currency(tag: str, amount: str) -> None:
    mail = compose(in_language("team_completed", tag), replace(SETTINGS, program_locale=tag), LINKS)
    assert amount in mail.text and "EUR" in mail.text


# ------------------------------------------------------------------ the weekly report email

REPORT_DATA = [
    *report_samples.NAMES.values(),
    *report_samples.NAMES,
    "FT-STUCK",
    "waiting past its deadline 2026-03-04 09:00 UTC",  # the watchdog's words, kept in English
    "python starter.py report --since 2026-11-30",
    "ReferralStatus",
    "Escalated",
    "Temporal Web UI",
    SETTINGS.ops_email,
    "FastTrack",
    "CPOR",
    "SLA",
]


def weekly_report(tag: str) -> ReportEmail:
    settings = replace(SETTINGS, program_locale=tag)
    return compose_report(
        report_samples.full_report(), report_samples.SINCE, report_samples.NAMES, settings, "r-1"
    )


def test_the_weekly_report_under_the_pseudo_locale_shows_only_catalog_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(weekly_module, "locale_of", lambda settings: i18n.PSEUDO)
    mail = weekly_report("en")
    assert untranslated(mail.subject, REPORT_DATA) == [], mail.subject
    assert untranslated(mail.text, REPORT_DATA) == [], mail.text
    html = visible_text(mail.html)
    assert untranslated(html, REPORT_DATA) == [], html


def test_a_german_weekly_report_has_german_words_dates_and_numbers() -> None:
    mail = weekly_report("de")
    assert b"Content-Language: de\r\n" in mail.message.raw and '<html lang="de">' in mail.html
    assert mail.subject.startswith("FastTrack-SLA-Wochenbericht 30. November 2026 – 7. Dezember")
    assert "1 Eskalation und 3 verfallene Zuweisungen in dieser Woche." in mail.text
    assert "Erstellte Empfehlungen: 1.234 (aktiv 1.000, abgeschlossen 230" in mail.text
    assert "Innerhalb der SLA beantwortet: 87,5\xa0%" in mail.text
    assert "Zeit bis zur Annahme: Median 2,50 Std., p90 0,50 Std." in mail.text
    assert "Account-Team vor dem Kick-off kontaktiert: 75,0\xa0% (3 von 4)" in mail.text
    assert "Bewertung 0,31 (6 Angebote, 3 verfallen" in mail.text  # crossed the floor
    assert "FT-STUCK (offen)" in mail.text and "über 7 Tage: 1" in mail.text
    assert "Diese Woche unter die Mindestbewertung gefallen" in mail.html


def test_a_japanese_weekly_report_has_japanese_words_dates_and_numbers() -> None:
    mail = weekly_report("ja")
    assert b"Content-Language: ja\r\n" in mail.message.raw and '<html lang="ja">' in mail.html
    assert mail.subject.startswith("FastTrack 週次 SLA レポート 2026年11月30日～2026年12月7日")
    assert "今週のエスカレーションは 1 件、期限切れの割り当ては 3 件でした。" in mail.text
    assert "作成された紹介: 1,234" in mail.text and "SLA 内に回答: 87.5%" in mail.text
    assert "キックオフ前のアカウント チームへの連絡: 75.0% (4 件中 3 件)" in mail.text
    assert "スコア 0.31 (提示 6 件" in mail.text and "7 日超: 1" in mail.text
    assert "停滞中 (現在)" in mail.html


# ----------------------------------------------------------- the Reports page and `report --html`


def test_the_reports_page_body_under_the_pseudo_locale_shows_only_catalog_text() -> None:
    with i18n.using(i18n.PSEUDO):
        view = report_view(report_samples.full_report(), report_samples.NAMES)
        html = portal_env.get_template("report/_body.html.j2").render(report=view)
    data = [*REPORT_DATA, *(f"{n} ({mpn})" for mpn, n in report_samples.NAMES.items())]
    assert untranslated(visible_text(html), data) == [], visible_text(html)


def test_the_html_report_of_the_cli_stays_english_under_any_language() -> None:
    with i18n.using("de"):
        page = render_html(report_samples.full_report(), report_samples.NAMES)
    assert '<html lang="en">' in page and "Referrals by status" in page
    assert "1,234" in page and "Partner at capacity" in page and "Empfehlung" not in page
