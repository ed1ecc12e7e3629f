"""Translations: the gettext catalogs under `locales/` (compiled by `make i18n`), the language
of the render in progress, and the pseudo-locale `en-XA` that tests render with.

A render states its language with `using(tag)`; the templates' `{% trans %}` blocks, `_()` and
the Python-side `gettext` all read it. A compiled catalog (`.mo`) missing or older than its
`.po` is refused with a one-line `CatalogError`, never used stale.
"""

from __future__ import annotations

import functools
import gettext as _gettext
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from domain.locales import DEFAULT_LOCALE, LOCALES
from domain.text import Text

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
PSEUDO = "en-XA"


class CatalogError(RuntimeError):
    """A compiled catalog is missing or older than its source."""


@dataclass
class _Current:
    tag: str
    zone: str = "UTC"  # the time zone the page's times are shown in


_current: ContextVar[_Current | None] = ContextVar("fasttrack_locale", default=None)


def babel_id(tag: str) -> str:
    """The Babel / CLDR identifier of a locale tag: `pt-BR` -> `pt_BR`; en-XA formats as en."""
    return "en" if tag == PSEUDO else tag.replace("-", "_")


def catalog_paths(tag: str) -> tuple[Path, Path]:
    """(`.po`, `.mo`) of a locale."""
    folder = LOCALES_DIR / babel_id(tag) / "LC_MESSAGES"
    return folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"


def stale_catalogs() -> list[Path]:
    """The compiled catalogs that are missing or older than their `.po`."""
    stale = []
    for tag in LOCALES:
        if tag == DEFAULT_LOCALE:
            continue
        po, mo = catalog_paths(tag)
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            stale.append(mo)
    return stale


def current() -> str:
    holder = _current.get()
    return holder.tag if holder else DEFAULT_LOCALE


@contextmanager
def using(tag: str) -> Iterator[None]:
    """Render in `tag` inside the block."""
    token = _current.set(_Current(tag))
    try:
        yield
    finally:
        _current.reset(token)


def zone() -> str:
    holder = _current.get()
    return holder.zone if holder else "UTC"


def begin(tag: str) -> None:
    """Start a request in `tag` (a web request's language, settled by `switch` later)."""
    _current.set(_Current(tag))


def switch(tag: str, zone: str | None = None) -> None:
    """Change the language (and the time zone) of the request or render in progress."""
    holder = _current.get()
    if holder is None:
        holder = _Current(tag)
        _current.set(holder)
    holder.tag = tag
    if zone is not None:
        holder.zone = zone


@functools.cache
def translations(tag: str) -> _gettext.NullTranslations:
    if tag == PSEUDO:
        return PseudoTranslations()
    if tag == DEFAULT_LOCALE or tag not in LOCALES:
        return _gettext.NullTranslations()
    po, mo = catalog_paths(tag)
    if not mo.exists():
        raise CatalogError(f"compiled catalog {mo} is missing: run `make i18n`")
    if mo.stat().st_mtime < po.stat().st_mtime:
        raise CatalogError(f"compiled catalog {mo} is older than its .po: run `make i18n`")
    with mo.open("rb") as handle:
        return _gettext.GNUTranslations(handle)


def gettext(message: str) -> str:
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations(current()).pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations(current()).npgettext(context, singular, plural, n)


def translate(text: Text | str) -> str:
    """A domain message in the current language (plain strings pass through)."""
    if isinstance(text, str):
        return text
    catalog = translations(current())
    if text.plural:
        if text.context:
            template = catalog.npgettext(text.context, text.msgid, text.plural, text.n)
        else:
            template = catalog.ngettext(text.msgid, text.plural, text.n)
    elif text.context:
        template = catalog.pgettext(text.context, text.msgid)
    else:
        template = catalog.gettext(text.msgid)
    return template % text.values if text.params else template


def _(message: str, **params: str | int) -> str:
    """A Python-side message of an interface, translated now: `_("Saved %(n)s", n=3)`."""
    template = gettext(message)
    return template % params if params else template


def _p(context: str, message: str, **params: str | int) -> str:
    template = pgettext(context, message)
    return template % params if params else template


def _n(singular: str, plural: str, n: int, **params: str | int) -> str:
    return ngettext(singular, plural, n) % {"n": n, **params}


# --------------------------------------------------------------------------- pseudo-locale

_ACCENTED = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "àƀçđéƒĝĥîĵķļɱñöþǫŕšţûṽŵẋýžÀƁÇĐÉƑĜĤÎĴĶĻṀÑÖÞǪŔŠŢÛṼŴẊÝŽ",
)
# Kept as they are: placeholders, HTML tags and entities.
_KEEP = re.compile(r"%\([a-z0-9_]+\)[sd]|%%|<[^>]*>|&[a-z]+;")
PSEUDO_OPEN, PSEUDO_CLOSE = "⟦", "⟧"


def pseudo(message: str) -> str:
    """`Accept referral` -> `⟦Àççéþţ ŕéƒéŕŕàļ·····⟧`: accented, a third longer, bracketed."""
    out, last = [], 0
    for match in _KEEP.finditer(message):
        out.append(message[last : match.start()].translate(_ACCENTED))
        out.append(match.group())
        last = match.end()
    out.append(message[last:].translate(_ACCENTED))
    padding = "·" * max(1, len(message) // 3)
    return f"{PSEUDO_OPEN}{''.join(out)}{padding}{PSEUDO_CLOSE}"


class PseudoTranslations(_gettext.NullTranslations):
    """Every message accented and lengthened: text that did not pass through here stays plain."""

    def gettext(self, message: str) -> str:
        return pseudo(message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return pseudo(msgid1 if n == 1 else msgid2)

    def pgettext(self, context: str, message: str) -> str:
        return pseudo(message)

    def npgettext(self, context: str, msgid1: str, msgid2: str, n: int) -> str:
        return pseudo(msgid1 if n == 1 else msgid2)
