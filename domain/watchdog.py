"""The stuck-referral watchdog's rule: a referral (or split part) is stuck when it has waited
longer than the longest possible deadline of what it waits on, so that something that should
have moved it on its own (a timer, a delivery giving up, its parts' ends) never did.

`waits_until` is computed from the live state whenever it is written to the read model;
`stuck` judges a row (and, for a split referral, its parts' rows) at a given moment. The
weekly report, the operators' Escalations page and `referral list --stuck` all call `stuck`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.models import Outcome, ReferralState, Status
from domain.text import Text, tr

# How long past its deadline a referral may take to move before it counts as stuck: workers
# restarting, a busy task queue, a database retried with backoff.
GRACE = timedelta(minutes=30)
# A notification waits for the mail server this long at most; then the referral goes on
# (workflows.publisher.MAIL_GIVE_UP).
NOTIFYING_LIMIT = timedelta(hours=12)
# Statuses that wait on a person with no deadline: an escalation waits for operations.
_NO_DEADLINE = frozenset({Status.ESCALATED, *Status.CLOSED})


@dataclass(frozen=True)
class Watched:
    """What the watchdog reads of one referral or part (a read-model row)."""

    workflow_id: str
    status: str
    waits_until: datetime | None
    closed_at: datetime | None = None


def waits_until(state: ReferralState) -> datetime | None:
    """The moment by which the referral must have moved on its own, or None when it waits on
    a person with no deadline (an engagement under way, an escalation), waits on its parts
    (judged from the parts' rows), or is closed."""
    if state.status in _NO_DEADLINE or state.status == Status.SPLIT:
        return None
    last_change = state.history[-1].at if state.history else state.created_at
    a = state.current
    if state.status == Status.PENDING:
        if a is None or a.outcome != Outcome.PENDING:
            return last_change  # matching: nothing to wait for
        if a.due_at is not None:
            return a.due_at  # the answer's SLA timer
        return a.assigned_at + NOTIFYING_LIMIT  # the notification is still being delivered
    m = state.milestones
    if state.status == Status.ACTIVE and m.contacted_at is None and not m.contact_overdue:
        return m.contact_due_at  # the customer-contact timer (None: not started yet)
    return None


def stuck(row: Watched, parts: list[Watched], now: datetime) -> str | None:
    """Why the referral counts as stuck at `now` (in English), or None."""
    reason = stuck_reason(row, parts, now)
    return None if reason is None else str(reason)


def stuck_reason(row: Watched, parts: list[Watched], now: datetime) -> Text | None:
    """Why the referral counts as stuck at `now`, or None. A split referral is stuck when
    every part has been closed for longer than GRACE and it is still open, or a part has not
    started (no status: its workflow never wrote its row) by then; an open part is judged on
    its own row."""
    if row.status in _NO_DEADLINE:
        return None
    if row.status == Status.SPLIT:
        for p in parts:
            if not p.status and p.waits_until is not None and now - p.waits_until > GRACE:
                return tr(
                    "%(part)s has not started since %(since)s",
                    part=p.workflow_id,
                    since=_utc(p.waits_until),
                )
        if not parts or any(p.status not in Status.CLOSED for p in parts):
            return None
        ended = [p.closed_at for p in parts if p.closed_at is not None]
        last = max(ended) if ended else None
        if last is None or now - last <= GRACE:
            return None
        return tr("every part closed by %(at)s, but the referral is still open", at=_utc(last))
    if row.waits_until is None or now - row.waits_until <= GRACE:
        return None
    return tr("waiting past its deadline %(due)s", due=_utc(row.waits_until))


def _utc(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
