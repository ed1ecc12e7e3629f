"""When a reminder fires: at the start of the partner's last business day before the due
time, in its time zone and with its country's holidays; never on a weekend or a holiday. A
window shorter than a business day (less than 24 hours of it fall on the partner's business
days) gets none. Pure: workflow code calls it for the answer reminder and the
customer-contact reminder alike."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.business_days import is_business_day

_MAX_SEARCH_DAYS = 366


def reminder_at(start: datetime, due: datetime, country: str, tz: str) -> datetime | None:
    """The reminder time of a window from `start` to `due` (aware), or None."""
    zone = ZoneInfo(tz)
    if business_time(start, due, country, zone) < timedelta(days=1):
        return None
    day = due.astimezone(zone).date()
    for _ in range(_MAX_SEARCH_DAYS):
        begins = datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)
        if begins <= start:
            return None
        if begins < due and is_business_day(day, country):
            return begins
        day -= timedelta(days=1)
    return None


def business_time(start: datetime, due: datetime, country: str, zone: ZoneInfo) -> timedelta:
    """How much of `start`–`due` falls on the partner's business days (local days)."""
    total, day = timedelta(0), start.astimezone(zone).date()
    last = due.astimezone(zone).date()
    while day <= last:
        if is_business_day(day, country):
            begins = datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)
            ends = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=zone)
            overlap = min(due, ends.astimezone(UTC)) - max(start, begins)
            total += max(overlap, timedelta(0))
        day += timedelta(days=1)
    return total
