"""What "time to accept" means: from the notification (when the partner's answer clock
starts; the assignment when it was never delivered) to the partner's accept. The workflow's
summary and the report both call it."""

from __future__ import annotations

from datetime import datetime, timedelta


def time_to_accept(
    assigned_at: datetime, notified_at: datetime | None, accepted_at: datetime | None
) -> timedelta | None:
    """None when the assignment was never accepted."""
    if accepted_at is None:
        return None
    return accepted_at - (notified_at or assigned_at)
