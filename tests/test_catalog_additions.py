"""`python -m mail.catalogs add FILE.json`: translations written apart from the catalogs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po

from domain.locales import DEFAULT_LOCALE, LOCALES
from mail import catalogs, i18n

LANGUAGES = [i18n.babel_id(tag) for tag in LOCALES if tag != DEFAULT_LOCALE]


@pytest.fixture
def locales(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for language in LANGUAGES:
        folder = tmp_path / language / "LC_MESSAGES"
        folder.mkdir(parents=True)
        catalog = Catalog(locale=language)
        catalog.add("Weekly SLA report", "old")
        with (folder / "messages.po").open("wb") as handle:
            write_po(handle, catalog, width=100, sort_output=True)
    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path)
    return tmp_path


def additions(tmp_path: Path, entries: Mapping[str, object]) -> Path:
    path = tmp_path / "additions.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


def read(locales: Path, language: str) -> Catalog:
    with (locales / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


def entry(catalog: Catalog, msgid: str, context: str | None = None) -> Message:
    message = catalog.get(msgid, context)
    assert message is not None, msgid
    return message


def test_adding_inserts_new_messages_and_updates_known_ones_in_every_catalog(
    locales: Path,
) -> None:
    entries = {
        "Weekly SLA report": {language: f"report {language}" for language in LANGUAGES},
        "open referral age\u0004over 7 days": {language: "7+" for language in LANGUAGES},
        "%(n)s offer": {
            "msgid_plural": "%(n)s offers",
            **{language: ["%(n)s a", "%(n)s b"] for language in LANGUAGES},
        },
    }
    assert catalogs.main(["add", str(additions(locales, entries))]) == 0
    german = read(locales, "de")
    assert entry(german, "Weekly SLA report").string == "report de"
    assert entry(german, "over 7 days", "open referral age").string == "7+"
    offer = entry(german, "%(n)s offer")
    assert offer.id == ("%(n)s offer", "%(n)s offers") and offer.string == ("%(n)s a", "%(n)s b")
    assert entry(read(locales, "zh_Hans"), "Weekly SLA report").string == "report zh_Hans"


def test_a_translation_that_changes_a_placeholder_is_refused_before_anything_is_written(
    locales: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = {"%(share)s within SLA": {language: "%(share)s" for language in LANGUAGES}}
    entries["%(share)s within SLA"]["ko"] = "%(percent)s"
    assert catalogs.main(["add", str(additions(locales, entries))]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "ko translation changes the placeholders" in error
    assert read(locales, "de").get("%(share)s within SLA") is None


def test_a_missing_language_is_named_in_one_line(
    locales: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = {"Nothing is stuck.": {"de": "Nichts hängt fest."}}
    assert catalogs.main(["add", str(additions(locales, entries))]) == 1
    assert capsys.readouterr().err.startswith("error: 'Nothing is stuck.' has no fr translation")
