"""`python -m mail.catalogs compile|check|add`: build the `.mo` files from the committed `.po`
catalogs (`make i18n` runs it), fail when one is missing or older than its source, or add
translations written apart from the catalogs.

`add FILE.json` inserts or updates entries in every catalog. The file maps a message (its id,
or `context\u0004id`) to its translations by Babel locale id (`de`, `pt_BR`, `zh_Hans`); a
plural message also carries `msgid_plural` and lists its forms. Placeholders must be the
message's own: an entry whose translation drops or invents one is refused before any catalog
is written. Catalogs are written as `make i18n-extract` leaves them: sorted, 100 wide."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from domain.locales import DEFAULT_LOCALE, LOCALES
from mail.i18n import babel_id, catalog_paths, stale_catalogs

_PLACEHOLDER = re.compile(r"%\([a-z0-9_]+\)[sd]")


class AdditionError(ValueError):
    """A translations file that cannot be added as it is."""


def compile_catalog(po: Path) -> Path:
    """Compile one `.po` next to itself; fuzzy entries are left out, as gettext does."""
    mo = po.with_suffix(".mo")
    with po.open("rb") as source:
        catalog = read_po(source, locale=po.parent.parent.name)
    tmp = mo.with_suffix(".mo.tmp")
    with tmp.open("wb") as target:
        write_mo(target, catalog, use_fuzzy=False)
    tmp.replace(mo)
    return mo


def compile_all() -> list[Path]:
    return [compile_catalog(catalog_paths(tag)[0]) for tag in LOCALES if tag != DEFAULT_LOCALE]


def _placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


MsgId = str | tuple[str, str]


def _entry(
    key: str, entry: dict[str, object], language: str
) -> tuple[MsgId, str | tuple[str, ...], str | None]:
    """(id, translation, context) of one message for one language, checked."""
    context, _, msgid = key.rpartition("\u0004")
    plural = entry.get("msgid_plural")
    text = entry.get(language)
    if text is None:
        raise AdditionError(f"{key!r} has no {language} translation")
    wanted = _placeholders(msgid) | (_placeholders(str(plural)) if plural else set())
    forms = text if isinstance(text, list) else [text]
    if plural and not isinstance(text, list):
        raise AdditionError(f"{key!r}: the {language} translation of a plural needs a list")
    for form in forms:
        if not isinstance(form, str) or not form.strip():
            raise AdditionError(f"{key!r}: the {language} translation is empty")
        if _placeholders(form) - wanted or (not plural and _placeholders(form) != wanted):
            raise AdditionError(f"{key!r}: the {language} translation changes the placeholders")
    strings = [str(form) for form in forms]
    if plural and set().union(*(_placeholders(f) for f in strings)) != wanted:
        raise AdditionError(f"{key!r}: the {language} translation loses a placeholder")
    msg_id: MsgId = (msgid, str(plural)) if plural else msgid
    return msg_id, (tuple(strings) if plural else strings[0]), context or None


def add_translations(source: Path) -> list[Path]:
    """Insert or update the file's messages in every catalog; the `.po` files written."""
    try:
        entries = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise AdditionError(f"cannot read {source}: {err}") from err
    if not isinstance(entries, dict):
        raise AdditionError(f"{source}: expected an object of messages")
    catalogs: dict[Path, Catalog] = {}
    for tag in LOCALES:
        if tag == DEFAULT_LOCALE:
            continue
        po = catalog_paths(tag)[0]
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=babel_id(tag))
        for key, entry in entries.items():
            msg_id, string, context = _entry(key, entry, babel_id(tag))
            lookup = msg_id[0] if isinstance(msg_id, tuple) else msg_id
            existing = catalog.get(lookup, context)
            if existing is not None:
                existing.id, existing.string = msg_id, string
                existing.flags.discard("fuzzy")
            else:
                flags = ["python-format"] if _placeholders(lookup) else []
                catalog.add(msg_id, string, context=context, flags=flags)
        catalogs[po] = catalog
    for po, catalog in catalogs.items():
        with po.open("wb") as handle:
            write_po(handle, catalog, width=100, sort_output=True)
    return list(catalogs)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "compile":
        targets = [Path(a) for a in argv[1:]] or [
            catalog_paths(t)[0] for t in LOCALES if t != DEFAULT_LOCALE
        ]
        for po in targets:
            compile_catalog(po)
        return 0
    if command == "check":
        stale = stale_catalogs()
        for mo in stale:
            print(f"error: {mo} is missing or older than its .po: run `make i18n`", file=sys.stderr)
        return 1 if stale else 0
    if command == "add" and len(argv) == 2:
        try:
            written = add_translations(Path(argv[1]))
        except AdditionError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(f"added {argv[1]} to {len(written)} catalogs: run `make i18n`")
        return 0
    usage = "usage: python -m mail.catalogs compile [PO...] | check | add FILE.json"
    print(usage, file=sys.stderr)
    return 2


__all__ = ["add_translations", "babel_id", "compile_all", "compile_catalog", "main"]

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
