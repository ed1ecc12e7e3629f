"""`python -m mail.catalogs compile|check`: build the `.mo` files from the committed `.po`
catalogs (`make i18n` runs it), or fail when one is missing or older than its source."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from domain.locales import DEFAULT_LOCALE, LOCALES
from mail.i18n import babel_id, catalog_paths, stale_catalogs


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
    print("usage: python -m mail.catalogs compile [PO...] | check", file=sys.stderr)
    return 2


__all__ = ["babel_id", "compile_all", "compile_catalog", "main"]

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
