"""What "time to accept" means: from the notification (when the partner's answer clock
starts; the assignment when it was never delivered) to the partner's accept; and what
"answered within the SLA" means. The workflow's summary, the report, the operators' weekly
trends and the CSV export call them."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.models import Outcome


def time_to_accept(
    assigned_at: datetime, notified_at: datetime | None, accepted_at: datetime | None
) -> timedelta | None:
    """None when the assignment was never accepted."""
    if accepted_at is None:
        return None
    return accepted_at - (notified_at or assigned_at)


def answered_in_time(
    outcome: str, answered_at: datetime | None, due_at: datetime | None
) -> bool | None:
    """Whether the partner answered within the SLA. An expiry is late. An answer (the accept,
    which a later decline or completion does not move, or else the decline) counts at
    `answered_at`: in time up to the deadline in force, and always when no clock was running
    yet (answered in the portal while the notification waited for the mail server). Not
    answered yet, or withdrawn: None, not judged."""
    if outcome == Outcome.EXPIRED:
        return False
    if outcome not in Outcome.ANSWERED or answered_at is None:
        return None
    return due_at is None or answered_at <= due_at
