"""What a report's week is (`domain.report.week_start`, `last_week`): Monday 00:00 UTC to the
next Monday 00:00, whatever zone the moment is given in."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from domain.report import WEEK, last_week, week_start

MONDAY = datetime(2026, 11, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "at",
    [
        MONDAY,
        datetime(2026, 12, 2, 15, 30, tzinfo=UTC),
        datetime(2026, 12, 6, 23, 59, 59, 999999, tzinfo=UTC),
        # Monday 00:30 in Berlin is still Sunday in UTC
        datetime(2026, 12, 7, 0, 30, tzinfo=ZoneInfo("Europe/Berlin")),
    ],
    ids=["monday-midnight", "wednesday", "sunday-last-moment", "berlin-monday-early"],
)
def test_a_moment_belongs_to_the_week_starting_monday_utc(at: datetime) -> None:
    assert week_start(at) == MONDAY


def test_last_week_is_the_whole_week_before() -> None:
    sent = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # the weekly schedule's Monday 07:00
    assert last_week(sent) == (MONDAY, MONDAY + WEEK)
    assert last_week(MONDAY + WEEK) == (MONDAY, MONDAY + WEEK)  # run exactly at midnight
