"""The translation catalogs: every message translated in every language, with the same
placeholders and HTML tags as the source, complete plural forms, and no fuzzy entries; the
template in step with the code; a compiled catalog older than its source refused."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from domain.locales import DEFAULT_LOCALE, LOCALES
from mail import i18n

TRANSLATED = [tag for tag in LOCALES if tag != DEFAULT_LOCALE]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
TAG = re.compile(r"</?([a-zA-Z]+)[^>]*>")


def _catalog(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def _forms(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _source(message: Message) -> list[str]:
    return _forms(message.id)


TEMPLATE = _catalog(i18n.LOCALES_DIR / "messages.pot")
SOURCE = [m for m in TEMPLATE if m.id]


@pytest.mark.parametrize("tag", TRANSLATED)
def test_every_message_is_translated_in_every_catalog_without_fuzzy_entries(tag: str) -> None:
    catalog = _catalog(i18n.catalog_paths(tag)[0])
    missing, fuzzy = [], []
    for source in SOURCE:
        found = catalog.get(source.id, context=source.context)
        if found is None or not all(_forms(found.string)):
            missing.append(_source(source)[0])
        elif found.fuzzy:
            fuzzy.append(_source(source)[0])
    assert not missing, f"{tag}: {len(missing)} untranslated, e.g. {missing[:3]}"
    assert not fuzzy, f"{tag}: fuzzy entries {fuzzy[:3]}"


@pytest.mark.parametrize("tag", TRANSLATED)
def test_placeholders_and_html_tags_are_identical_and_plural_forms_complete(tag: str) -> None:
    catalog = _catalog(i18n.catalog_paths(tag)[0])
    problems = []
    for message in catalog:
        if not message.id or not any(_forms(message.string)):
            continue
        source = _source(message)
        forms = _forms(message.string)
        if isinstance(message.id, tuple | list) and len(forms) != catalog.num_plurals:
            problems.append(f"{source[0]!r}: {len(forms)} plural forms of {catalog.num_plurals}")
        expected = set(PLACEHOLDER.findall(" ".join(source)))
        for form in forms:
            found = set(PLACEHOLDER.findall(form))
            # A language without grammatical number may leave the count out of a plural form.
            if found not in (expected, expected - {"%(n)s", "%(count)s"}):
                problems.append(f"{source[0]!r}: placeholders {sorted(found)}")
            if Counter(TAG.findall(form)) != Counter(TAG.findall(source[0])):
                problems.append(f"{source[0]!r}: HTML tags differ")
    assert not problems, f"{tag}: " + "; ".join(problems[:5])


@pytest.mark.parametrize("tag", TRANSLATED)
def test_no_catalog_keeps_messages_the_code_no_longer_has(tag: str) -> None:
    catalog = _catalog(i18n.catalog_paths(tag)[0])
    known = {(m.id if isinstance(m.id, str) else m.id[0], m.context) for m in SOURCE}
    extra = [m.id for m in catalog if m.id and ((_forms(m.id)[0], m.context) not in known)]
    assert not extra, f"{tag}: obsolete entries {extra[:3]} (run `make i18n-extract`)"


def test_the_template_holds_every_message_the_code_and_templates_mark(tmp_path: Path) -> None:
    from babel.messages.frontend import CommandLineInterface

    out = tmp_path / "messages.pot"
    keywords = ["-k", "tr", "-k", "trn:1,2", "-k", "trp:1c,2", "-k", "_", "-k", "_n:1,2"]
    options = ["--no-location", "--sort-output", "-o", str(out), "."]
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", "babel.cfg", *keywords, "-k", "_p:1c,2", *options]
    )
    fresh = {(_forms(m.id)[0], m.context) for m in _catalog(out) if m.id}
    committed = {(_forms(m.id)[0], m.context) for m in SOURCE}
    assert fresh == committed, (
        f"locales/messages.pot is out of date (run `make i18n-extract`): "
        f"new {sorted(fresh - committed)[:3]}, gone {sorted(committed - fresh)[:3]}"
    )


def test_a_compiled_catalog_older_than_its_source_is_refused(monkeypatch, tmp_path: Path) -> None:
    folder = tmp_path / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po, mo = folder / "messages.po", folder / "messages.mo"
    source, compiled = i18n.catalog_paths("de")
    po.write_bytes(source.read_bytes())
    mo.write_bytes(compiled.read_bytes())
    os.utime(mo, (1_000_000, 1_000_000))
    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        assert i18n.stale_catalogs() and i18n.stale_catalogs()[0] == mo
        with pytest.raises(i18n.CatalogError, match=r"older than its \.po"):
            i18n.translations("de")
    finally:
        monkeypatch.undo()
        i18n.translations.cache_clear()
