"""The report's figures in the words and number formats of the current render, shared by the
weekly report email (activities/operations.py) and the Reports page (mail/report_page.py)."""

from __future__ import annotations

from collections.abc import Callable

from domain.text import Text, trp
from mail import display, formats
from mail.i18n import _, _p

AGE_NAMES: dict[str, Text] = {
    "<1d": trp("open referral age", "under 1 day"),
    "1-3d": trp("open referral age", "1 to 3 days"),
    "3-7d": trp("open referral age", "3 to 7 days"),
    ">7d": trp("open referral age", "over 7 days"),
}


def age(code: str) -> str:
    return display.named(AGE_NAMES, code)


def counts(figures: dict[str, int], name: Callable[[str], str] = display.status) -> str:
    """`aktiv 2, abgeschlossen 1`: the codes with a count, in words; `none` when all are 0."""
    shown = [f"{name(code)} {formats.number(n)}" for code, n in figures.items() if n]
    return _p("list separator", ", ").join(shown) if shown else _("none")


def hours(value: float | None, digits: int = 2) -> str:
    """`2,50 Std.`: hours with a fixed number of decimals; `–` when there is none."""
    if value is None:
        return "–"
    return _("%(hours)s h", hours=formats.fixed(value, digits))


def short_hours(value: float | None) -> str:
    """`45 min` under an hour, else `2,5 h`."""
    if value is None:
        return "–"
    if value < 1:
        return _("%(minutes)s min", minutes=formats.fixed(value * 60, 0))
    return hours(value, 1)


def percent(value: float | None, digits: int = 1) -> str:
    """A figure already in percent (0-100)."""
    return formats.share(None if value is None else value / 100, digits)


def referral_type(code: str) -> str:
    if code == "benefit":
        return _("FastTrack Benefit")
    return _("Standard") if code == "standard" else code
