"""The operations report's figures (built from the read model by `db.reports`, shown by the
CLI, the portal and the weekly email; definitions in `db.reports`), and what a report's week
is: Monday 00:00 UTC to the next Monday 00:00, for the weekly email and the weekly trends."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.models import ScoreCard


@dataclass
class Report:
    generated_at: datetime
    since: datetime | None
    referrals_total: int
    by_status: dict[str, int]
    assignments_total: int
    answered_within_sla_pct: float | None
    expiries: int
    escalations: int
    acceptance_rate_by_partner: dict[str, dict[str, Any]]
    declines_by_reason: dict[str, int]
    time_to_accept_median_hours: float | None
    time_to_accept_p90_hours: float | None
    open_by_age: dict[str, int]
    parts_by_status: dict[str, int] = field(default_factory=dict)
    decline_rate_by_partner: dict[str, dict[str, Any]] = field(default_factory=dict)
    decline_rate_by_reason: dict[str, dict[str, Any]] = field(default_factory=dict)
    contact_sla: dict[str, Any] = field(default_factory=dict)
    time_to_accept_by_type: dict[str, dict[str, Any]] = field(default_factory=dict)
    time_to_accept_by_country: dict[str, dict[str, Any]] = field(default_factory=dict)
    cpor_claimant_referrals: int = 0
    # referrals and parts the watchdog calls stuck now (db.stuck): referral_id, status, why
    stuck: list[dict[str, str]] = field(default_factory=list)
    account_team_first: dict[str, Any] = field(default_factory=dict)
    floor_crossed: list[ScoreCard] = field(default_factory=list)  # set by the weekly job
    until: datetime | None = None  # the end of the period (excluded); None: up to now


@dataclass(frozen=True)
class Period:
    """The report's period: `since` <= moment < `until`; None leaves that end open."""

    since: datetime | None = None
    until: datetime | None = None


WEEK = timedelta(weeks=1)


def week_start(at: datetime) -> datetime:
    """Monday 00:00 UTC of the week `at` (aware) falls in."""
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def last_week(at: datetime) -> tuple[datetime, datetime]:
    """The last whole week before `at`: its start and its end (excluded)."""
    end = week_start(at)
    return end - WEEK, end
