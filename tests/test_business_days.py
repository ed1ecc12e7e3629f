from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.business_days import add_business_days, format_local, is_business_day


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


# (case, start (UTC), days, country, tz, expected (UTC), expected local text)
CASES = [
    (
        "Berlin Friday 15:00 -> Tuesday 15:00",
        utc(2026, 11, 27, 14),
        2,
        "DE",
        "Europe/Berlin",
        utc(2026, 12, 1, 14),
        "Tue 1 Dec 2026 15:00 CET",
    ),
    (
        "DE across Christmas: 24 Dec works, 25/26 Dec + Sunday skipped",
        utc(2026, 12, 23, 9),
        2,
        "DE",
        "Europe/Berlin",
        utc(2026, 12, 28, 9),
        "Mon 28 Dec 2026 10:00 CET",
    ),
    (
        "DE across New Year into 2027",
        utc(2026, 12, 31, 9),
        1,
        "DE",
        "Europe/Berlin",
        utc(2027, 1, 4, 9),
        "Mon 4 Jan 2027 10:00 CET",
    ),
    (
        "US across Thanksgiving (Friday after is a business day)",
        utc(2026, 11, 25, 15),
        2,
        "US",
        "America/New_York",
        utc(2026, 11, 30, 15),
        "Mon 30 Nov 2026 10:00 EST",
    ),
    (
        "Berlin over spring-forward weekend keeps 15:00 local",
        utc(2026, 3, 27, 14),
        1,
        "DE",
        "Europe/Berlin",
        utc(2026, 3, 30, 13),
        "Mon 30 Mar 2026 15:00 CEST",
    ),
    (
        "Berlin over fall-back weekend keeps 15:00 local",
        utc(2026, 10, 23, 13),
        1,
        "DE",
        "Europe/Berlin",
        utc(2026, 10, 26, 14),
        "Mon 26 Oct 2026 15:00 CET",
    ),
    (
        "New York over spring-forward weekend",
        utc(2026, 3, 6, 15),
        1,
        "US",
        "America/New_York",
        utc(2026, 3, 9, 14),
        "Mon 9 Mar 2026 10:00 EDT",
    ),
    (
        "New York over fall-back weekend",
        utc(2026, 10, 30, 14),
        1,
        "US",
        "America/New_York",
        utc(2026, 11, 2, 15),
        "Mon 2 Nov 2026 10:00 EST",
    ),
    (
        "start on Saturday: clock starts Monday 00:00 local",
        utc(2026, 11, 28, 10),
        2,
        "DE",
        "Europe/Berlin",
        utc(2026, 12, 1, 23),
        "Wed 2 Dec 2026 00:00 CET",
    ),
    (
        "Friday in UTC but already Saturday in Berlin",
        utc(2026, 11, 27, 23, 30),
        1,
        "DE",
        "Europe/Berlin",
        utc(2026, 11, 30, 23),
        "Tue 1 Dec 2026 00:00 CET",
    ),
    (
        "Friday in UTC but still Thanksgiving evening in New York",
        utc(2026, 11, 27, 3),
        1,
        "US",
        "America/New_York",
        utc(2026, 11, 30, 5),
        "Mon 30 Nov 2026 00:00 EST",
    ),
    (
        "Saudi Arabia: Fri/Sat weekend, Sunday is a business day",
        utc(2026, 11, 5, 7),
        1,
        "SA",
        "Asia/Riyadh",
        utc(2026, 11, 8, 7),
        "Sun 8 Nov 2026 10:00 +03",
    ),
    (
        "UAE: Sat/Sun weekend since 2022",
        utc(2026, 11, 6, 6),
        1,
        "AE",
        "Asia/Dubai",
        utc(2026, 11, 9, 6),
        "Mon 9 Nov 2026 10:00 +04",
    ),
    (
        "nonexistent local time (DST gap on a business day) moves forward",
        utc(2026, 3, 26, 1, 30),
        1,
        "SA",
        "Europe/Berlin",
        utc(2026, 3, 29, 1, 30),
        "Sun 29 Mar 2026 03:30 CEST",
    ),
    (
        "ambiguous local time (DST overlap) takes the first occurrence",
        utc(2026, 10, 22, 0, 30),
        1,
        "SA",
        "Europe/Berlin",
        utc(2026, 10, 25, 0, 30),
        "Sun 25 Oct 2026 02:30 CEST",
    ),
    (
        "unknown country: weekends only (25 Dec is a business day)",
        utc(2026, 12, 23, 9),
        2,
        "XX",
        "Europe/Berlin",
        utc(2026, 12, 25, 9),
        "Fri 25 Dec 2026 10:00 CET",
    ),
    (
        "lowercase country code",
        utc(2026, 12, 23, 9),
        2,
        "de",
        "Europe/Berlin",
        utc(2026, 12, 28, 9),
        "Mon 28 Dec 2026 10:00 CET",
    ),
    (
        "days=0 on a business day: unchanged",
        utc(2026, 12, 1, 14, 17),
        0,
        "DE",
        "Europe/Berlin",
        utc(2026, 12, 1, 14, 17),
        "Tue 1 Dec 2026 15:17 CET",
    ),
    (
        "days=0 on a holiday: next business day 00:00 local",
        utc(2026, 12, 25, 9),
        0,
        "DE",
        "Europe/Berlin",
        utc(2026, 12, 27, 23),
        "Mon 28 Dec 2026 00:00 CET",
    ),
]


@pytest.mark.parametrize(
    ("start", "days", "country", "tz", "expected", "text"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_add_business_days(
    start: datetime, days: int, country: str, tz: str, expected: datetime, text: str
) -> None:
    result = add_business_days(start, days, country, tz)
    assert result == expected
    assert result.utcoffset() == timedelta(0)
    assert format_local(result, tz) == text


def test_non_utc_start_is_converted() -> None:
    start = datetime(2026, 11, 27, 15, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    result = add_business_days(start, 0, "DE", "Europe/Berlin")
    assert result == start
    assert result.tzinfo == UTC


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(start=datetime(2026, 12, 1, 10), days=2), "timezone-aware"),
        (dict(start=utc(2026, 12, 1), days=-1), "must not be negative"),
        (dict(start=utc(2026, 12, 1), days=1.5), "whole number"),
        (dict(start=utc(2026, 12, 1), days=2, tz="Mars/Olympus_Mons"), "unknown time zone"),
        (dict(start=utc(2026, 12, 1), days=2, tz=""), "unknown time zone"),
        (dict(start=date(2026, 12, 1), days=2), "must be a datetime"),
        (dict(start=utc(9999, 12, 30), days=5), "out of range"),
    ],
)
def test_add_business_days_errors(kwargs: dict, message: str) -> None:
    args = {"country": "DE", "tz": "Europe/Berlin", **kwargs}
    with pytest.raises(ValueError, match=message):
        add_business_days(**args)


@pytest.mark.parametrize(
    ("day", "country", "expected"),
    [
        (date(2026, 12, 24), "DE", True),
        (date(2026, 12, 25), "DE", False),
        (date(2026, 5, 14), "DE", False),  # Ascension Day
        (date(2026, 11, 26), "US", False),  # Thanksgiving
        (date(2026, 11, 27), "US", True),
        (date(2026, 11, 6), "SA", False),  # Friday
        (date(2026, 11, 8), "SA", True),  # Sunday
        (date(2026, 11, 7), "AE", False),  # Saturday
        (date(2026, 12, 25), "XX", True),
        (date(2026, 12, 26), "XX", False),
        (date(2026, 12, 25), "", True),
    ],
)
def test_is_business_day(day: date, country: str, expected: bool) -> None:
    assert is_business_day(day, country) is expected


@pytest.mark.parametrize(
    ("dt", "tz", "text"),
    [
        (utc(2026, 12, 1, 14), "Europe/Berlin", "Tue 1 Dec 2026 15:00 CET"),
        (utc(2026, 7, 1, 14), "America/New_York", "Wed 1 Jul 2026 10:00 EDT"),
        (utc(2026, 7, 1, 14), "Asia/Kolkata", "Wed 1 Jul 2026 19:30 IST"),
        (utc(2026, 7, 1, 14), "UTC", "Wed 1 Jul 2026 14:00 UTC"),
    ],
)
def test_format_local(dt: datetime, tz: str, text: str) -> None:
    assert format_local(dt, tz) == text


def test_format_local_errors() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_local(datetime(2026, 1, 1), "UTC")
    with pytest.raises(ValueError, match="unknown time zone"):
        format_local(utc(2026, 1, 1), "Nowhere/City")


PLACES = [
    ("DE", "Europe/Berlin"),
    ("US", "America/New_York"),
    ("US", "America/Los_Angeles"),
    ("SA", "Asia/Riyadh"),
    ("AE", "Asia/Dubai"),
    ("JP", "Asia/Tokyo"),
    ("AU", "Australia/Sydney"),
    ("BR", "America/Sao_Paulo"),
    ("IN", "Asia/Kolkata"),
    ("GB", "Europe/London"),
    ("SA", "Europe/Berlin"),  # Sunday business day in a zone that changes DST on Sundays
    ("XX", "Pacific/Chatham"),
]


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    days=st.integers(min_value=0, max_value=25),
    place=st.sampled_from(PLACES),
)
def test_add_business_days_properties(start: datetime, days: int, place: tuple[str, str]) -> None:
    country, tz = place
    result = add_business_days(start, days, country, tz)
    after = add_business_days(start, days + 1, country, tz)
    assert result.tzinfo == UTC
    assert result >= start
    assert after > result  # strictly monotonic in days
    if days > 0:
        assert result > start
    local = result.astimezone(ZoneInfo(tz))
    assert is_business_day(local.date(), country)
    if days > 0:
        start_day = start.astimezone(ZoneInfo(tz)).date()
        assert local.date() > start_day
