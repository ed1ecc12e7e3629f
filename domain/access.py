"""Who may use the portal's pages: the one rule that sign-in and every signed-in request apply."""

from __future__ import annotations

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
