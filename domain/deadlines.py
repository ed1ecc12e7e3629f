"""SLA deadlines from the configured terms: business days in the partner's country and time
zone, or a fixed override duration (SLA_OVERRIDE). Pure: workflow code calls it."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.business_days import add_business_days, format_local
from domain.models import Deadline, SlaTerms


def compute_deadline(start: datetime, country: str, tz: str, terms: SlaTerms) -> Deadline:
    """The deadline `terms` give for a clock started at `start` (aware)."""
    if terms.override_seconds is not None:
        due = start + timedelta(seconds=terms.override_seconds)
    else:
        due = add_business_days(start, terms.business_days, country, tz)
    return Deadline(due_at=due, local_text=format_local(due, tz))
