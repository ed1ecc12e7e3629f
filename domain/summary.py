"""One-line, PII-free description of a referral (Temporal UI static summary, lists)."""

from domain.models import Referral


def static_summary(referral: Referral, workloads: list[str] | None = None) -> str:
    c = referral.customer
    what = ", ".join(workloads or referral.workloads)
    return f"{referral.type} · {what} · {c.country} · {c.seats} seats"
