"""What a partner may see of a referral it holds or held: the one rule every path (pages,
JSON API, webhooks) calls. After its last assignment of a referral was declined, expired or
withdrawn (the referral cancelled by operations) the partner keeps only the id, its own
outcome and the dates: no customer data."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain.models import Assignment, Outcome

# The partner's latest outcome after which it keeps only its own outcome and dates.
LET_GO = frozenset({Outcome.DECLINED, Outcome.EXPIRED, Outcome.WITHDRAWN})


def latest_outcome(assignments: Iterable[Assignment | dict[str, Any]], partner: str) -> str:
    """The outcome of `partner`'s last assignment ("" when it never held the referral).
    Takes the workflow's assignments or their JSON form (the read model's snapshot)."""
    outcome = ""
    for a in assignments:
        who, what = (
            (a.get("partner"), a.get("outcome"))
            if isinstance(a, dict)
            else (
                a.partner,
                a.outcome,
            )
        )
        if who == partner:
            outcome = str(what or "")
    return outcome


def let_go(own_outcome: str) -> bool:
    """The partner held the referral and its last assignment of it ended without it."""
    return own_outcome in LET_GO


def sees_customer(own_outcome: str) -> bool:
    """Whether a partner whose latest outcome on a referral is `own_outcome` may see its
    customer (name, contact, notes): only while it holds it or after completing it."""
    return own_outcome != "" and not let_go(own_outcome)
