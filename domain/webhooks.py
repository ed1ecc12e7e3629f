"""Webhook rules: which history entries are events for which partner, event ids, the
signature, and which endpoint URLs and addresses may be called. Pure: no I/O."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from domain.models import ReferralState
from domain.text import Text, tr
from domain.visibility import let_go

# History action -> event type.
EVENT_OF_ACTION = {
    "assigned": "referral.assigned",
    "reminded": "referral.reminder",
    "expired": "referral.expired",
    "declined": "referral.declined",
    "accepted": "referral.accepted",
    "contacted": "referral.contacted",
    "account_team_contacted": "referral.account_team_contacted",
    "kickoff": "referral.kickoff",
    "cpor_claimed": "referral.cpor_claimed",
    "completed": "referral.completed",
    "cancelled": "referral.withdrawn",
    "released": "referral.withdrawn",
}
EVENT_TYPES: tuple[str, ...] = tuple(dict.fromkeys(EVENT_OF_ACTION.values()))
SIGNATURE_HEADER = "FastTrack-Signature"
EVENT_ID_HEADER = "FastTrack-Event-Id"
REPLAY_WINDOW_S = 300  # what receivers should accept between `t` and their clock
MAX_URL = 2000
_NAMESPACE = uuid.UUID("6b0f6f4e-7a51-4f0e-9b1c-7e2f1d5c3a90")
# Cloud metadata services answer on these even where they are not link-local.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)


class WebhookRuleError(ValueError):
    """A subscription input breaks a rule (the message is one line, for the user); `text` is
    the message for the pages' catalogs, None for a refusal worded elsewhere."""

    def __init__(self, text: Text | str) -> None:
        super().__init__(str(text))
        self.text = text if isinstance(text, Text) else None


@dataclass(frozen=True)
class EventRef:
    seq: int  # the history entry's index
    type: str
    partner: str
    occurred_at: datetime


def holder_at(state: ReferralState, at: datetime) -> str | None:
    """The partner holding the referral at `at`: the latest assignment made by then, unless
    it had already let it go (`domain.visibility.let_go`: declined, expired, withdrawn)."""
    held = [a for a in state.assignments if a.assigned_at <= at]
    if not held:
        return None
    last = held[-1]
    if let_go(last.outcome) and last.decided_at is not None and last.decided_at < at:
        return None
    return last.partner


def events_since(state: ReferralState, start: int) -> list[EventRef]:
    """The events of history entries from index `start` on: each for the partner it concerns
    (the one who acted, else the one holding the referral then). Refused actions are none."""
    out = []
    for seq, entry in enumerate(state.history[start:], start=start):
        kind = EVENT_OF_ACTION.get(entry.action)
        if kind is None or entry.refused:
            continue
        if entry.actor.startswith("partner:"):
            partner: str | None = entry.actor.removeprefix("partner:")
        else:
            partner = holder_at(state, entry.at)
        if partner:
            out.append(EventRef(seq, kind, partner, entry.at))
    return out


def event_id(workflow_id: str, seq: int, subscription_id: int) -> str:
    """Stable for one event and one subscription: a retried publication queues it once."""
    return f"evt_{uuid.uuid5(_NAMESPACE, f'{workflow_id}/{seq}/{subscription_id}').hex}"


def wants(events: list[str], kind: str) -> bool:
    """A subscription with no event list receives every type."""
    return not events or kind in events


def parse_events(text: str) -> list[str]:
    """`--events a,b` (with or without the `referral.` prefix) as the known types."""
    out: list[str] = []
    for raw in text.split(","):
        name = raw.strip()
        if not name:
            continue
        full = name if name.startswith("referral.") else f"referral.{name}"
        if full not in EVENT_TYPES:
            known = ", ".join(t.split(".", 1)[1] for t in EVENT_TYPES)
            raise WebhookRuleError(
                tr("unknown event %(name)s (known: %(known)s)", name=repr(name), known=known)
            )
        if full not in out:
            out.append(full)
    return out


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `FastTrack-Signature` value: `t=UNIX,v1=HEX(HMAC_SHA256(secret, t + "." + body))`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: int, window: int = REPLAY_WINDOW_S) -> bool:
    """What a receiver checks: a valid v1 signature whose `t` is within `window` of now."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs(now - timestamp) > window:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected.encode(), fields.get("v1", "").encode())


def check_url(url: str, allow_insecure: bool) -> str:
    """A subscription URL: https (http only with WEBHOOK_ALLOW_INSECURE), a host, no
    credentials or fragment. Returns it stripped; the addresses are checked separately."""
    url = url.strip()
    if not url or len(url) > MAX_URL:
        raise WebhookRuleError(tr("the URL must have 1 to %(max)s characters", max=MAX_URL))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookRuleError(tr("not a URL: %(url)s", url=repr(url))) from None
    schemes = ("https", "http") if allow_insecure else ("https",)
    if parts.scheme not in schemes:
        raise WebhookRuleError(tr("the URL must start with https://"))
    if not parts.hostname:
        raise WebhookRuleError(tr("the URL needs a host name"))
    if parts.username or parts.password or parts.fragment:
        raise WebhookRuleError(tr("the URL may not carry credentials or a #fragment"))
    if port == 0:
        raise WebhookRuleError(tr("the URL's port must be 1 to 65535"))
    return url


def address_refusal(host: str, address: str, allow_insecure: bool) -> Text | None:
    """Why the endpoint `host`, resolved to `address`, may not be called (None: it may):
    loopback, private, link-local, metadata and other non-public addresses are refused."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if allow_insecure:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    where = {"host": host, "ip": str(ip)}
    if ip in METADATA_ADDRESSES:
        return tr("%(host)s resolves to %(ip)s, a cloud metadata address", **where)
    for test, text in (
        (ip.is_loopback, tr("%(host)s resolves to %(ip)s, a loopback address", **where)),
        (ip.is_link_local, tr("%(host)s resolves to %(ip)s, a link-local address", **where)),
        (ip.is_private, tr("%(host)s resolves to %(ip)s, a private address", **where)),
        (ip.is_multicast, tr("%(host)s resolves to %(ip)s, a multicast address", **where)),
        (ip.is_unspecified, tr("%(host)s resolves to %(ip)s, an unspecified address", **where)),
        (ip.is_reserved, tr("%(host)s resolves to %(ip)s, a reserved address", **where)),
        (not ip.is_global, tr("%(host)s resolves to %(ip)s, not a public address", **where)),
    ):
        if test:
            return text
    return None
