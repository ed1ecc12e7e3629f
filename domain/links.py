"""Signed, expiring, single-use action links for notification emails (HMAC-SHA256).

A token carries referral/part id, partner, action, expiry and a nonce. The nonce is derived
from the message it was written into, so re-sending the same message yields the same links;
single use is enforced by the portal remembering used nonces. LINK_SECRET never signs anything
itself: each use gets its own key derived from it (HKDF-SHA256, RFC 5869).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime


class LinkError(ValueError):
    """The link is malformed, forged or expired (one-line message)."""


@dataclass(frozen=True)
class LinkClaims:
    workflow_id: str
    partner: str
    action: str  # accept | decline
    expires_at: datetime
    nonce: str


ACTION_LINKS = "fasttrack/action-links/v1"
SIGN_IN_FORMS = "fasttrack/sign-in-forms/v1"


@functools.lru_cache(maxsize=16)
def derive_key(secret: str, purpose: str) -> bytes:
    """The 32-byte key for one `purpose` (HKDF-SHA256 of `secret`, no salt): a key for one
    use tells nothing about the secret or the keys for other uses."""
    prk = hmac.new(b"\x00" * hashlib.sha256().digest_size, secret.encode(), hashlib.sha256)
    return hmac.new(prk.digest(), purpose.encode() + b"\x01", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def link_nonce(message_id: str, action: str) -> str:
    return hashlib.sha256(f"{message_id}|{action}".encode()).hexdigest()[:32]


def sign_link(secret: str, claims: LinkClaims) -> str:
    body = json.dumps(
        {
            "w": claims.workflow_id,
            "p": claims.partner,
            "a": claims.action,
            "e": int(claims.expires_at.timestamp()),
            "n": claims.nonce,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    mac = hmac.new(derive_key(secret, ACTION_LINKS), body, hashlib.sha256).digest()
    return f"{_b64(body)}.{_b64(mac)}"


def verify_link(secret: str, token: str, now: datetime) -> LinkClaims:
    try:
        body_part, mac_part = token.split(".", 1)
        body, mac = _unb64(body_part), _unb64(mac_part)
    except ValueError:
        raise LinkError("this link is malformed") from None
    expected = hmac.new(derive_key(secret, ACTION_LINKS), body, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        raise LinkError("this link is not valid")
    try:
        raw = json.loads(body)
        claims = LinkClaims(
            workflow_id=str(raw["w"]),
            partner=str(raw["p"]),
            action=str(raw["a"]),
            expires_at=datetime.fromtimestamp(int(raw["e"]), tz=UTC),
            nonce=str(raw["n"]),
        )
    except (ValueError, KeyError, TypeError):
        raise LinkError("this link is malformed") from None
    if now >= claims.expires_at:
        raise LinkError("this link has expired; open the referral in the portal instead")
    return claims
