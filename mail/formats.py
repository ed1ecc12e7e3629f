"""Dates, times, numbers, money and durations in the language of the current render (Babel),
in the time zone of the partner concerned."""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date, format_time, format_timedelta, get_timezone_name
from babel.numbers import format_currency, format_decimal, format_percent

from mail import i18n


def _locale() -> Locale:
    return _parsed(i18n.babel_id(i18n.current()))


@functools.cache
def _parsed(identifier: str) -> Locale:
    return Locale.parse(identifier)


def _marked(text: str) -> str:
    """Formatted values under the pseudo-locale are marked as having passed through Babel."""
    return i18n.pseudo(text) if i18n.current() == i18n.PSEUDO else text


@functools.cache
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def zone_name(moment: datetime, timezone: str) -> str:
    """The zone's name as the language writes it (MEZ, JST, CET)."""
    return _marked(_zone_name(moment.astimezone(zone(timezone)), timezone))


def _zone_name(local: datetime, timezone: str) -> str:
    """The language's short name (MEZ); else the zone's own abbreviation (CET, JST); else
    the language's long name."""
    short = get_timezone_name(local, "short", locale=_locale())
    if timezone == "UTC" or not (short[:1] in "+-" or short.startswith(("GMT", "UTC"))):
        return short
    abbreviation = local.tzname() or ""
    if abbreviation.isalpha() and abbreviation.isupper():
        return abbreviation
    return get_timezone_name(local, "long", locale=_locale())


def moment_long(moment: datetime, timezone: str | None = None, named: bool = True) -> str:
    """`Montag, 7. Dezember 2026, 17:00 MEZ`: weekday, date, time and (when `named`) zone;
    in the page's zone when none is given."""
    timezone = timezone or i18n.zone()
    local = moment.astimezone(zone(timezone))
    loc = _locale()
    day = format_date(local, "full", locale=loc)
    time = format_time(local, "short", locale=loc)
    pattern = loc.datetime_formats["medium"]
    text = str(pattern).replace("{1}", day).replace("{0}", time)
    return _marked(f"{text} {_zone_name(local, timezone)}" if named else text)


def moment_short(moment: datetime, timezone: str | None = None) -> str:
    """`08.12.2026, 01:00`: compact date and time, in the page's zone unless one is given (a
    page names its zone once)."""
    local = moment.astimezone(zone(timezone or i18n.zone()))
    loc = _locale()
    pattern = loc.datetime_formats["short"]
    text = (
        str(pattern)
        .replace("{1}", format_date(local, "medium", locale=loc))
        .replace("{0}", format_time(local, "short", locale=loc))
    )
    return _marked(text)


def zone_generic(timezone: str | None = None) -> str:
    """`Mitteleuropäische Zeit`: the zone as the language names it, for a page's one mention."""
    name = timezone or i18n.zone()
    if name in ("UTC", "Etc/UTC"):
        text = get_timezone_name(datetime(2026, 1, 1, tzinfo=zone("UTC")), "long", locale=_locale())
    else:
        text = get_timezone_name(zone(name), "long", locale=_locale())
    return _marked(text)


def day(value: date) -> str:
    return _marked(format_date(value, "long", locale=_locale()))


def number(value: int | float) -> str:
    return _marked(format_decimal(value, locale=_locale()))


def percent(value: float | None) -> str:
    """Active usage (a share 0-1; figures above 1 are taken as already in percent)."""
    if value is None:
        return i18n._("not reported")
    share = value if value <= 1 else value / 100
    pattern = "#,##0%" if share * 100 >= 10 or share * 100 == int(share * 100) else "#,##0.0%"
    return _marked(format_percent(share, pattern, locale=_locale()))


def money(amount: float | int | str | Decimal, currency: str) -> str:
    """`12.000 €`: whole amounts without decimals; text that is not a number is kept."""
    try:
        value = Decimal(str(amount))
    except ArithmeticError:
        return str(amount)
    if not value.is_finite():
        return str(amount)
    loc = _locale()
    if value == value.to_integral_value():
        pattern = loc.currency_formats["standard"].pattern
        whole = pattern.replace(".00", "").replace(".##", "")
        text = format_currency(value, currency, whole, locale=loc, currency_digits=False)
    else:
        text = format_currency(value, currency, locale=loc)
    return _marked(text)


def duration(delta: timedelta) -> str:
    """`1 Std.`: the largest sensible unit, abbreviated."""
    return _marked(format_timedelta(delta, format="short", locale=_locale()))


def country(code: str) -> str:
    """A country's name in the current language (`DE` -> Deutschland); unknown codes kept."""
    name = _locale().territories.get(code.upper())
    return _marked(name) if name else code


def language(code: str) -> str:
    """A language's name in the current language (`de` -> Deutsch); unknown codes kept."""
    name = _locale().languages.get(code.lower())
    return _marked(name) if name else code


def time_left(due: datetime, now: datetime) -> tuple[str, bool]:
    """(`noch 1 Std.` / `1 Std. überfällig`, overdue?) for a deadline."""
    left = due - now
    if left >= timedelta(0):
        return i18n._("%(duration)s left", duration=duration(left)), False
    return i18n._("%(duration)s overdue", duration=duration(-left)), True
