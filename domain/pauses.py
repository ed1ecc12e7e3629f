"""What a pause is: a partner receives no new referrals up to and including a day, which ends
at midnight in the partner's own time zone; it is set at most 90 days ahead. Every path
(portal, CLI, import, matching, the sweep that clears ended pauses) calls these."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.text import Text, tr

MAX_PAUSE_DAYS = 90


class PauseError(ValueError):
    """A pause outside the allowed range; the message is one line for the user (`text`: the
    sentence pages show in their language)."""

    def __init__(self, text: Text) -> None:
        english = str(text)
        super().__init__(english[0].lower() + english[1:].rstrip("."))
        self.text = text


def local_today(tz: str, now: datetime) -> date:
    """The calendar day it is in time zone `tz` at `now` (aware)."""
    return now.astimezone(ZoneInfo(tz)).date()


def pause_ends_at(until: date, tz: str) -> datetime:
    """When a pause whose last day is `until` ends: the next local midnight, in UTC."""
    local = datetime.combine(until + timedelta(days=1), time(0, 0), tzinfo=ZoneInfo(tz))
    return local.astimezone(UTC)


def is_paused(until: date | None, tz: str, at: datetime) -> bool:
    """Whether a partner paused up to and including `until` is paused at `at` (aware)."""
    return until is not None and at < pause_ends_at(until, tz)


def latest_pause_day(tz: str, now: datetime) -> date:
    """The last day a pause set at `now` may cover."""
    return local_today(tz, now) + timedelta(days=MAX_PAUSE_DAYS)


def check_pause(until: date, tz: str, now: datetime, *, ended_ok: bool = False) -> None:
    """Raise `PauseError` unless a pause up to `until` may be set at `now`: from the partner's
    today to at most 90 days ahead (`ended_ok`: a day already past is accepted, as an ended
    pause, which a directory file may still carry)."""
    today = local_today(tz, now)
    last = latest_pause_day(tz, now)
    if until > last:
        raise PauseError(
            tr(
                "A pause may last at most %(days)s days: until %(last)s at the latest, "
                "not %(until)s.",
                days=MAX_PAUSE_DAYS,
                last=last.isoformat(),
                until=until.isoformat(),
            )
        )
    if until < today and not ended_ok:
        raise PauseError(
            tr("The pause's last day %(until)s is in the past.", until=until.isoformat())
        )
