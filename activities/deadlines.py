"""SLA deadlines: business days in the partner's country and time zone (or SLA_OVERRIDE).

Workflows recorded before "lean-1" ask this activity; newer ones compute the deadline
themselves from the `SlaTerms` the match activity returns (`sla_terms`)."""

from __future__ import annotations

from dataclasses import replace

from temporalio import activity

from domain import names
from domain.deadlines import compute_deadline
from domain.models import Deadline, DeadlineRequest, SlaTerms
from runtime.settings import Settings


class DeadlineActivities:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @activity.defn(name=names.ACTIVITY_DEADLINE)
    async def compute_deadline(self, request: DeadlineRequest) -> Deadline:
        return compute(request, self._settings)


def sla_terms(settings: Settings) -> SlaTerms:
    override = settings.sla_override
    return SlaTerms(
        business_days=settings.sla_business_days,
        override_seconds=override.total_seconds() if override is not None else None,
    )


def compute(request: DeadlineRequest, settings: Settings) -> Deadline:
    terms = sla_terms(settings)
    if request.business_days:
        terms = replace(terms, business_days=request.business_days)
    return compute_deadline(request.start, request.country, request.timezone, terms)
