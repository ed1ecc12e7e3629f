"""SLA deadlines from the match result's terms (pure: the workflow computes them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from activities.matching import sla_terms
from domain.deadlines import compute_deadline
from domain.models import SlaTerms
from settings import Settings

FRIDAY_NOON_BERLIN = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)


def test_two_business_days_skip_the_weekend_in_the_partners_zone() -> None:
    d = compute_deadline(FRIDAY_NOON_BERLIN, "DE", "Europe/Berlin", SlaTerms(business_days=2))
    assert d.due_at == datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    assert d.local_text == "Tue 1 Dec 2026 12:00 CET"


def test_override_is_a_fixed_duration_regardless_of_weekends() -> None:
    terms = SlaTerms(business_days=2, override_seconds=90)
    d = compute_deadline(FRIDAY_NOON_BERLIN, "DE", "Europe/Berlin", terms)
    assert d.due_at == FRIDAY_NOON_BERLIN + timedelta(seconds=90)


def test_terms_come_from_the_worker_settings() -> None:
    assert sla_terms(Settings(sla_business_days=3)) == SlaTerms(3, None)
    assert sla_terms(Settings(sla_override=timedelta(seconds=20))) == SlaTerms(2, 20.0)
