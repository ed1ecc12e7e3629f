"""Business counters emitted from workflow code (replay-safe: the SDK drops them on replay).

Only `temporalio.workflow` is used, so the helpers are safe inside the workflow sandbox. The
workflow meter adds `namespace`, `task_queue` and `workflow_type` labels by itself; the
counters appear on the worker's Prometheus endpoint (runtime/metrics.py) under these names.
"""

from __future__ import annotations

from temporalio import workflow

ASSIGNMENTS = "fasttrack_referral_assignments"
ACCEPTS = "fasttrack_referral_accepts"
DECLINES = "fasttrack_referral_declines"
EXPIRIES = "fasttrack_referral_expiries"
ESCALATIONS = "fasttrack_referral_escalations"
PARTNERS_RESUMED = "fasttrack_partners_resumed"

_DESCRIPTIONS = {
    ASSIGNMENTS: "Referrals (or parts) assigned to a partner",
    ACCEPTS: "Assignments accepted by the partner",
    DECLINES: "Assignments declined by the partner, by reason",
    EXPIRIES: "Assignments that expired without an answer within the SLA",
    ESCALATIONS: "Referrals escalated to operations (no eligible partner)",
    PARTNERS_RESUMED: "Partner pauses ended by the daily sweep",
}


def _add(name: str, value: int, attributes: dict[str, str]) -> None:
    if value <= 0:
        return
    counter = workflow.metric_meter().create_counter(name, _DESCRIPTIONS[name])
    counter.add(value, attributes)


def assigned(referral_type: str) -> None:
    _add(ASSIGNMENTS, 1, {"referral_type": referral_type})


def accepted(referral_type: str) -> None:
    _add(ACCEPTS, 1, {"referral_type": referral_type})


def declined(referral_type: str, reason: str) -> None:
    _add(DECLINES, 1, {"referral_type": referral_type, "reason": reason or "unknown"})


def expired(referral_type: str) -> None:
    _add(EXPIRIES, 1, {"referral_type": referral_type})


def escalated(referral_type: str) -> None:
    _add(ESCALATIONS, 1, {"referral_type": referral_type})


def partners_resumed(count: int) -> None:
    _add(PARTNERS_RESUMED, count, {})
