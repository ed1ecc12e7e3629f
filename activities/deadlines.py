"""SLA deadlines: business days in the partner's country and time zone (or SLA_OVERRIDE)."""

from __future__ import annotations

from temporalio import activity

from domain import names
from domain.business_days import add_business_days, format_local
from domain.models import Deadline, DeadlineRequest
from runtime.settings import Settings


class DeadlineActivities:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @activity.defn(name=names.ACTIVITY_DEADLINE)
    async def compute_deadline(self, request: DeadlineRequest) -> Deadline:
        return compute(request, self._settings)


def compute(request: DeadlineRequest, settings: Settings) -> Deadline:
    if settings.sla_override is not None:
        due = request.start + settings.sla_override
    else:
        days = request.business_days or settings.sla_business_days
        due = add_business_days(request.start, days, request.country, request.timezone)
    return Deadline(due_at=due, local_text=format_local(due, request.timezone))
