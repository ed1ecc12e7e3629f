"""Who owns which field of a partner's referral profile.

The partner owns what it edits in the portal: languages, segments, customer size, countries
beyond its home, its pause, its portal users and its locale. The program owns the rest:
name, opt-ins, endorsed workloads, the referral contact, home country, time zone and the
capacity limit. `partners import` updates only the program's fields of an existing partner;
`--replace` overwrites both, after listing the partner's fields it changes."""

from __future__ import annotations

import dataclasses
from typing import Any

from domain.models import PartnerProfile

PARTNER_OWNED = (
    "languages",
    "segments",
    "min_seats",
    "max_seats",
    "countries",
    "paused_until",
    "portal_users",
    "locale",
)
PROGRAM_OWNED = (
    "name",
    "referral_ready",
    "benefit_referrals",
    "fasttrack_ready",
    "workloads",
    "referral_contact",
    "home_country",
    "timezone",
    "max_open_referrals",
)


def _fields() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(PartnerProfile))


def partner_fields() -> tuple[str, ...]:
    """The partner-owned fields the profile has."""
    return tuple(f for f in PARTNER_OWNED if f in _fields())


def owner(field: str) -> str:
    """ "partner" or "program" (`mpn_id` is the key, which the program assigns)."""
    return "partner" if field in PARTNER_OWNED else "program"


def program_update(stored: PartnerProfile, incoming: PartnerProfile) -> PartnerProfile:
    """`stored` with the program's fields taken from `incoming` (an import of an existing
    partner): what the partner set stays."""
    kept = {f: getattr(stored, f) for f in partner_fields()}
    merged = dataclasses.replace(incoming, **kept)
    # a country the program now makes the home country is no longer "beyond home"
    merged.countries = [c for c in merged.countries if c != merged.home_country]
    return merged


def partner_update(stored: PartnerProfile, **changes: Any) -> PartnerProfile:
    """`stored` with partner-owned `changes` (the portal's form); a program field is refused."""
    foreign = sorted(k for k in changes if owner(k) != "partner")
    if foreign:
        raise ValueError(f"the program owns {', '.join(foreign)}: changed by program support only")
    return dataclasses.replace(stored, **changes)


def partner_changes(stored: PartnerProfile, incoming: PartnerProfile) -> list[tuple[str, Any, Any]]:
    """The partner-owned fields `incoming` would change: (field, now, then)."""
    return [
        (f, getattr(stored, f), getattr(incoming, f))
        for f in partner_fields()
        if getattr(stored, f) != getattr(incoming, f)
    ]
