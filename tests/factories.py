"""Realistic test data builders."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from domain.models import WORKLOADS, Customer, PartnerProfile, Referral, Requester


def partner(mpn_id: str, **changes: Any) -> PartnerProfile:
    base = PartnerProfile(
        mpn_id=mpn_id,
        name=f"Partner {mpn_id} GmbH",
        referral_contact=f"referrals-{mpn_id}@partner.example",
        referral_ready=True,
        benefit_referrals=True,
        fasttrack_ready=True,
        workloads=list(WORKLOADS),
        languages=["de", "en"],
        segments=["commercial", "education"],
        min_seats=0,
        max_seats=None,
        home_country="DE",
        countries=["AT", "CH"],
        timezone="Europe/Berlin",
        locale="en",  # the tests read English; the translation tests ask for their language
    )
    return replace(base, **changes)


def referral(referral_id: str, **changes: Any) -> Referral:
    base = Referral(
        referral_id=referral_id,
        type="benefit",
        customer=Customer(
            name="Fabrikam Ltd",
            tenant_id="6f1c2d3e-0000-4000-8000-000000000001",
            country="DE",
            language="de",
            segment="commercial",
            seats=2400,
            contact_email="it@fabrikam.example",
        ),
        workloads=["teams", "sharepoint"],
        active_usage={"teams": 0.18, "sharepoint": 0.05},
        notes="Wants Teams Phone and a SharePoint migration before Q2.",
        requested_by=Requester("Ada Account", "ada@microsoft.example", True),
        account_team=["ae@microsoft.example"],
    )
    return replace(base, **changes)
