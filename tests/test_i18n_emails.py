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
from mail.compose import KINDS, PARTNER_KINDS, compose, render
from mail.display import WORKLOAD_NAMES
from settings import Settings
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
