"""Messages with gettext ids: the rules say them once, in English, and every interface shows
them in its language (the CLI and the JSON API in English, pages and emails translated).

`tr`, `trn` and `trp` mark a message for extraction (`make i18n-extract`); placeholders are
`%(name)s`, filled from keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    msgid: str
    params: tuple[tuple[str, str | int], ...] = ()
    plural: str = ""
    n: int = 1
    context: str = ""

    @property
    def values(self) -> dict[str, str | int]:
        return dict(self.params)

    def __str__(self) -> str:
        """The English text (what the CLI, the JSON API and the workflow's history carry)."""
        template = self.plural if self.plural and self.n != 1 else self.msgid
        return template % self.values if self.params else template


def tr(msgid: str, **params: str | int) -> Text:
    return Text(msgid, tuple(params.items()))


def trn(singular: str, plural: str, n: int, **params: str | int) -> Text:
    return Text(singular, tuple({"n": n, **params}.items()), plural=plural, n=n)


def trp(context: str, msgid: str, **params: str | int) -> Text:
    return Text(msgid, tuple(params.items()), context=context)
