"""Business-day arithmetic in a partner's country and time zone.

Pure functions: no I/O beyond loading time-zone and holiday rules, and no clock reads, so
workflow code may call them (deterministic for a given tzdata / `holidays` version). Workflow
code must import this module inside `workflow.unsafe.imports_passed_through()`: the sandbox
refuses `zoneinfo` otherwise.
A business day is a day that is neither a weekend day of the country (its own weekend, e.g.
Fri/Sat in some countries) nor one of its public holidays. Unknown country codes only skip
Saturday and Sunday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from temporalio import workflow

_DEFAULT_WEEKEND = frozenset({5, 6})  # Saturday, Sunday
_MAX_SEARCH_DAYS = 366  # no real calendar has a year without a business day
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@lru_cache(maxsize=512)
def _calendar(country: str, year: int) -> holidays.HolidayBase | None:
    """The public holidays of `country` in `year`, or None for an unknown country.

    `holidays` loads each country's rules lazily and looks up translations of holiday names
    (which depend on the locale, the dates do not). Inside a Temporal workflow sandbox that
    runs passed through and unrestricted; elsewhere both context managers do nothing.
    """
    try:
        with workflow.unsafe.imports_passed_through(), workflow.unsafe.sandbox_unrestricted():
            return holidays.country_holidays(country, years=year)
    except NotImplementedError:
        return None


def is_business_day(d: date, country: str) -> bool:
    """True when `d` is neither a weekend day nor a public holiday in `country`."""
    if isinstance(d, datetime):
        d = d.date()
    calendar = _calendar(country.strip().upper(), d.year)
    if calendar is None:
        return d.weekday() not in _DEFAULT_WEEKEND
    return bool(calendar.is_working_day(d))


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {tz!r} (use an IANA name like Europe/Berlin)"
        ) from None


def _require_aware(dt: datetime, name: str) -> None:
    if not isinstance(dt, datetime):
        raise ValueError(f"{name} must be a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {dt.isoformat()}")


def _next_business_day(d: date, country: str) -> date:
    candidate = d
    for _ in range(_MAX_SEARCH_DAYS):
        candidate += timedelta(days=1)
        if is_business_day(candidate, country):
            return candidate
    raise ValueError(f"no business day within a year after {d.isoformat()} in {country!r}")


def _localize(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """Local wall-clock time on `day` as an aware UTC datetime.

    Ambiguous times (DST ends) take the first occurrence; nonexistent times (DST starts)
    move forward by the size of the gap (02:30 on a spring-forward night becomes 03:30).
    """
    local = datetime.combine(day, wall).replace(tzinfo=zone, fold=0)
    return local.astimezone(UTC)


def add_business_days(start: datetime, days: int, country: str, tz: str) -> datetime:
    """The same local wall-clock time `days` business days after `start`, in UTC.

    Business days are those of `country`, counted in time zone `tz`. When `start` falls on a
    non-business day the clock starts at 00:00 local time of the next business day (so with
    `days=0` the result is that moment; otherwise `start` itself).
    """
    _require_aware(start, "start")
    if isinstance(days, bool) or not isinstance(days, int):
        raise ValueError(f"days must be a whole number, got {days!r}")
    if days < 0:
        raise ValueError(f"days must not be negative, got {days}")
    zone = _zone(tz)
    local = start.astimezone(zone)
    day, wall = local.date(), local.time().replace(tzinfo=None, fold=0)
    try:
        if not is_business_day(day, country):
            day, wall = _next_business_day(day, country), time(0, 0)
        elif days == 0:
            return start.astimezone(UTC)
        for _ in range(days):
            day = _next_business_day(day, country)
        return _localize(day, wall, zone)
    except OverflowError:
        raise ValueError(
            f"{days} business days after {start.isoformat()} is out of range"
        ) from None


def format_local(dt: datetime, tz: str) -> str:
    """`dt` in time zone `tz`, e.g. "Tue 1 Dec 2026 15:00 CET" (English, locale-independent)."""
    _require_aware(dt, "dt")
    local = dt.astimezone(_zone(tz))
    return (
        f"{_DAY_NAMES[local.weekday()]} {local.day} {_MONTH_NAMES[local.month - 1]} "
        f"{local.year} {local:%H:%M} {local.tzname()}"
    )
