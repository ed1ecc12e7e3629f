"""What "overdue" means to operations: a referral still open whose partner's answer is past
its deadline (pending), or whose first customer contact is overdue (accepted and active). A
completed or cancelled referral is never overdue, whatever flag it kept. The operators'
search, its CSV, the Reports page and `referral list --overdue` all ask this rule (the
database and Temporal's visibility in its query form)."""

from __future__ import annotations

from datetime import datetime

from domain.models import Status

# The status in which a customer-contact deadline can be overdue (the referral accepted).
CONTACT_STATUS = Status.ACTIVE


def is_overdue(
    status: str, sla_due_at: datetime | None, contact_overdue: bool, now: datetime
) -> bool:
    """`sla_due_at`: the answer deadline while the answer is pending (None otherwise)."""
    if status in Status.CLOSED:
        return False
    late_answer = sla_due_at is not None and sla_due_at < now
    return late_answer or (contact_overdue and status == CONTACT_STATUS)
