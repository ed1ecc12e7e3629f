"""The activities' own metrics, counted through the SDK's activity metric meter (exported by
the worker's Prometheus runtime, `runtime.metrics`)."""

from __future__ import annotations

from temporalio import activity

EMAILS_SENT = "fasttrack_emails_sent"
EMAILS_FAILED = "fasttrack_emails_failed"


def email_outcome(kind: str, status: str) -> None:
    """Count one email result from inside an activity (`status`: sent | duplicate | failed).

    Sent and failed are counted by kind; duplicates (already sent on an earlier attempt) are
    not counted again."""
    if status == "sent":
        name, text = EMAILS_SENT, "Emails accepted by the SMTP server, by kind"
    elif status == "failed":
        name, text = EMAILS_FAILED, "Emails that failed permanently, by kind"
    else:
        return
    activity.metric_meter().create_counter(name, text).add(1, {"kind": kind})
