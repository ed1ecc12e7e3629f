"""Who may use the portal's pages: the one rule that sign-in and every signed-in request apply."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable


def normalized(email: str) -> str:
    return email.strip().lower()


def partner_user(email: str, referral_contact: str, portal_users: Iterable[str]) -> bool:
    """The address is the partner's referral contact or one of its portal users."""
    wanted = normalized(email)
    return any(normalized(u) == wanted for u in (referral_contact, *portal_users))


def operator(email: str, operator_emails: Iterable[str]) -> bool:
    """The address is listed in OPERATOR_EMAILS."""
    return normalized(email) in {normalized(o) for o in operator_emails}


def signs_in_elsewhere(
    email: str, mpn_id: str, partners: Iterable[tuple[str, str, Iterable[str]]]
) -> bool:
    """The address already signs in for another partner (its referral contact or a portal
    user): `partners` are (MPN ID, referral contact, portal users). A partner may not add
    such an address to its portal users: that person's sign-in would land in its portal."""
    return any(
        other != mpn_id and partner_user(email, contact, users)
        for other, contact, users in partners
    )


def client_key(host: str) -> str:
    """What the per-client sign-in limit counts: an IPv4 address, or an IPv6 address's /64
    (one host commonly holds a whole /64)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
