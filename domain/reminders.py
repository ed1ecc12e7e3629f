"""When a reminder fires: at the start of the partner's last business day before the due
time, in its time zone and with its country's holidays; never on a weekend or a holiday. A
window that does not contain the start of a business day gets none. Pure: workflow code
calls it for the answer reminder and the customer-contact reminder alike."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.business_days import is_business_day

_MAX_SEARCH_DAYS = 366


def reminder_at(start: datetime, due: datetime, country: str, tz: str) -> datetime | None:
    """The reminder time of a window from `start` to `due` (aware), or None."""
    zone = ZoneInfo(tz)
    day = due.astimezone(zone).date()
    for _ in range(_MAX_SEARCH_DAYS):
        begins = datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)
        if begins <= start:
            return None
        if begins < due and is_business_day(day, country):
            return begins
        day -= timedelta(days=1)
    return None
