"""Timestamps as operators read them, the same in the CLI and the HTML report."""

from __future__ import annotations

from datetime import UTC, date, datetime


def when(value: datetime | date | None, empty: str = "-") -> str:
    """A compact UTC timestamp (`2026-03-02 14:05Z`) or an ISO date."""
    if value is None:
        return empty
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.strftime("%Y-%m-%d %H:%M")
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") + "Z"
    return value.isoformat()
