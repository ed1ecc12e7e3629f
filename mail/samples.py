"""Realistic sample requests for every email kind (screenshots, tests, template previews)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.models import Customer, EmailRequest, PartnerContact, Referral, Requester
from domain.policy import ANSWER_FASTTRACK_CENTER

DUE_AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def referral(kind: str = "benefit") -> Referral:
    return Referral(
        referral_id="FT-2026-000123",
        type=kind,
        customer=Customer(
            name="Fabrikam Ltd",
            country="DE",
            language="de",
            segment="commercial",
            seats=2400,
            tenant_id="5f0c1a52-8d2e-4a8b-9b7e-2f4d61c0a9e1",
            contact_email="it@fabrikam.example",
        ),
        workloads=["teams", "sharepoint", "entra_id"],
        active_usage={"teams": 0.18, "sharepoint": 0.05, "entra_id": 0.62},
        notes=(
            "Wants Teams Phone for 600 users in Munich and Hamburg and a SharePoint migration "
            "from an on-premises 2016 farm before Q2. Security team asked about conditional "
            "access."
        ),
        requested_by=Requester(
            name="Jana Richter", email="jrichter@microsoft.example", microsoft=True
        ),
        account_team=["ae.fabrikam@microsoft.example", "csm.fabrikam@microsoft.example"],
        cpor_partner=None,
    )


def partner() -> PartnerContact:
    return PartnerContact(
        mpn_id="4711001",
        name="Contoso Cloud Services",
        referral_contact="referrals@contoso.example",
        timezone="Europe/Berlin",
        country="DE",
    )


_DETAILS: dict[str, dict[str, str]] = {
    "notification": {"due_local": "Tue 1 Dec 2026 15:00 CET"},
    "reminder": {"due_local": "Tue 1 Dec 2026 15:00 CET"},
    "expired": {},
    "decline_ack": {
        "reason": "language_not_supported",
        "note": "No German-speaking architects free",
    },
    "decline_refused": {
        "reason": "customer_prefers_fasttrack_center",
        "message": ANSWER_FASTTRACK_CENTER,
    },
    "contact_reminder": {"due_local": "Thu 3 Dec 2026 15:00 CET"},
    "team_assigned": {"due_local": "Tue 1 Dec 2026 15:00 CET"},
    "team_accepted": {},
    "team_reassigned": {"reason": "expired"},
    "contact_overdue": {},
    "team_completed": {
        "vas_sold": "yes",
        "vas_value": "12000",
        "notes": "Teams Phone live for 600 users; SharePoint migration finished in week 9.",
    },
    "escalation": {
        "why": "no eligible partner covers: entra_id (14 partners considered, removed by: "
        "workloads 6, language 5, not_excluded 3)",
        "candidates": "14",
        "missing": "entra_id",
        "match_note": "no eligible partner covers: entra_id",
        "excluded": "4711001, 4711007, 4711013",
    },
    "delivery_failure": {
        "failed_message_id": "<FT-2026-000123.2.notification@fasttrack.localhost>",
        "error": "550 5.1.1 No such user: referrals@contoso.example",
        "kind": "notification",
    },
}

_NO_PARTNER = ("escalation",)


def request(kind: str, referral_type: str = "benefit") -> EmailRequest:
    ref = referral(referral_type)
    return EmailRequest(
        kind=kind,
        referral=ref,
        scope_id=ref.referral_id,
        seq=2,
        workloads=list(ref.workloads),
        partner=None if kind in _NO_PARTNER else partner(),
        due_at=DUE_AT,
        detail=dict(_DETAILS[kind]),
    )


def links(referral_id: str = "FT-2026-000123") -> dict[str, str]:
    base = f"http://localhost:8000/referrals/{referral_id}"
    return {
        "accept": f"{base}/accept?t=eyJwIjoiNDcxMTAwMSJ9.c2lnbmF0dXJl",
        "decline": f"{base}/decline?t=eyJwIjoiNDcxMTAwMSJ9.c2lnbmF0dXJl",
        "view": base,
    }
