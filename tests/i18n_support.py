"""Helpers of the translation tests: the visible text of a page or email, and what is left of
it once the pseudo-locale's text and the data are taken out."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from mail.i18n import PSEUDO_CLOSE, PSEUDO_OPEN

_INNERMOST = re.compile(f"{PSEUDO_OPEN}[^{PSEUDO_OPEN}{PSEUDO_CLOSE}]*{PSEUDO_CLOSE}")
_WORD = re.compile(r"[A-Za-z]{2,}")
# Codes shown beside their names, `(DE)` `(de)`, and the UTC offset the zone may fall back to.
_CODES = re.compile(r"\((?:[A-Z]{2}|[a-z]{2})\)|\bUTC\b|\bGMT\b")
_VISIBLE_ATTRS = ("title", "aria-label", "placeholder", "alt", "data-label")


class _Visible(HTMLParser):
    """Text nodes and the attributes people read or hear, outside <style>, <script>, <title>
    (checked separately) and elements marked as another language's data (`lang="en"`)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        void = tag in ("input", "br", "meta", "link", "img")
        if self._skip:  # inside a skipped element: count nested ones of the same tag
            if not void:
                self._skip.append(tag)
            return
        if tag in ("style", "script") or (values.get("lang") and tag != "html"):
            if not void:
                self._skip.append(tag)
            return
        if not self._skip:
            self.parts += [values[a] or "" for a in _VISIBLE_ATTRS if values.get(a)]

    def handle_endtag(self, tag: str) -> None:
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return "\n".join(parser.parts)


def untranslated(text: str, data: list[str]) -> list[str]:
    """Words of `text` that neither passed through the pseudo-locale nor belong to `data`."""
    while True:
        stripped = _INNERMOST.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    for value in sorted(data, key=len, reverse=True):
        if value.isalpha():  # a single word of the data: only where it stands as a word
            text = re.sub(rf"\b{re.escape(value)}\b", " ", text)
        elif value:
            text = text.replace(value, " ")
    return _WORD.findall(_CODES.sub(" ", text))
