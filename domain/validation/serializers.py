"""The contract's JSON objects for partner profiles and referrals (the inverse of parsers)."""

from __future__ import annotations

from typing import Any

from domain.models import PartnerProfile, Referral


def partner_to_json(p: PartnerProfile) -> dict[str, Any]:
    """The contract's JSON object for a partner profile (dates as ISO strings)."""
    return {
        "mpn_id": p.mpn_id,
        "name": p.name,
        "referral_contact": p.referral_contact,
        "referral_ready": p.referral_ready,
        "benefit_referrals": p.benefit_referrals,
        "fasttrack_ready": p.fasttrack_ready,
        "workloads": list(p.workloads),
        "languages": list(p.languages),
        "segments": list(p.segments),
        "min_seats": p.min_seats,
        "max_seats": p.max_seats,
        "home_country": p.home_country,
        "countries": list(p.countries),
        "timezone": p.timezone,
        "locale": p.locale or None,  # None: follows home_country (`effective_locale`)
        "paused_until": p.paused_until.isoformat() if p.paused_until else None,
        "max_open_referrals": p.max_open_referrals,
        "portal_users": list(p.portal_users),
    }


def referral_to_json(r: Referral) -> dict[str, Any]:
    """The contract's JSON object for a referral."""
    c = r.customer
    return {
        "referral_id": r.referral_id,
        "type": r.type,
        "customer": {
            "name": c.name,
            "tenant_id": c.tenant_id,
            "country": c.country,
            "language": c.language,
            "segment": c.segment,
            "seats": c.seats,
            "contact_email": c.contact_email,
        },
        "workloads": list(r.workloads),
        "active_usage": dict(r.active_usage),
        "notes": r.notes,
        "requested_by": {
            "name": r.requested_by.name,
            "email": r.requested_by.email,
            "microsoft": r.requested_by.microsoft,
        },
        "account_team": list(r.account_team),
        "cpor_partner": r.cpor_partner,
    }
