"""Compose the process's emails from an `EmailRequest` (pure: no I/O besides reading templates).

Every kind has `templates/<kind>.html.j2` and `templates/<kind>.txt.j2`, both extending a shared
layout. The result is a multipart/alternative message (plain text first, then HTML with its CSS
inlined), with a deterministic `Message-ID` so that a retried send is recognisably the same
message: `<{scope_id}.{seq}.{kind}@{domain of MAIL_FROM}>` (delivery failures add the failed
message's kind, so several failures of one assignment stay distinct).

Recipients by kind:

| kind             | audience   | To                        | Cc           | partner  |
|------------------|------------|---------------------------|--------------|----------|
| notification     | partner    | partner.referral_contact  | account_team | required |
| reminder         | partner    | partner.referral_contact  | —            | required |
| expired          | partner    | partner.referral_contact  | —            | required |
| decline_ack      | partner    | partner.referral_contact  | —            | required |
| decline_refused  | partner    | partner.referral_contact  | —            | required |
| contact_reminder | partner    | partner.referral_contact  | —            | required |
| team_assigned    | team       | account_team or OPS_EMAIL | —            | required |
| team_accepted    | team       | account_team or OPS_EMAIL | —            | required |
| team_reassigned  | team       | account_team or OPS_EMAIL | —            | optional |
| contact_overdue  | team       | account_team or OPS_EMAIL | —            | optional |
| team_completed   | team       | account_team or OPS_EMAIL | —            | required |
| escalation       | operations | OPS_EMAIL                 | —            | optional |
| delivery_failure | operations | OPS_EMAIL                 | —            | optional |

Required `detail` keys: `decline_ack` reason (note optional); `decline_refused` message (reason
optional); `team_reassigned` reason; `team_completed` vas_sold (vas_value, notes optional);
`escalation` why (any further keys are listed); `delivery_failure` failed_message_id, error, kind.
`due_local` (pre-formatted deadline in the partner's zone) is used by `notification`, `reminder`
and `contact_reminder`; without it the deadline is formatted from `due_at` and the partner's zone.

One module, though long: a kind is its row in the table above, its required detail, its
recipients, its template context and its Message-ID, and adding or changing a kind touches all
of them together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from domain.links import LinkClaims, link_nonce, sign_link
from domain.models import EmailRequest, Outcome
from domain.policy import program_answer
from domain.transitions import escalation_match
from domain.visibility import sees_customer
from mail import display, formats, i18n, wording
from mail.i18n import _
from mail.jinja import i18n_environment
from mail.mime import Outgoing, alternative, parse_addresses
from settings import Settings

# A notification's action links stay valid this long after its deadline.
LINK_LIFETIME = timedelta(days=14)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

PARTNER_KINDS: tuple[str, ...] = (
    "notification",
    "reminder",
    "expired",
    "decline_ack",
    "decline_refused",
    "contact_reminder",
)
TEAM_KINDS: tuple[str, ...] = (
    "team_assigned",
    "team_accepted",
    "team_reassigned",
    "contact_overdue",
    "team_completed",
)
OPS_KINDS: tuple[str, ...] = ("escalation", "delivery_failure")
KINDS: tuple[str, ...] = PARTNER_KINDS + TEAM_KINDS + OPS_KINDS

NEEDS_PARTNER: frozenset[str] = frozenset(
    (*PARTNER_KINDS, "team_assigned", "team_accepted", "team_completed")
)
REQUIRED_DETAIL: dict[str, tuple[str, ...]] = {
    "decline_ack": ("reason",),
    "decline_refused": ("message",),
    "team_reassigned": ("reason",),
    "team_completed": ("vas_sold",),
    "escalation": ("why",),
    "delivery_failure": ("failed_message_id", "error", "kind"),
}

# Kinds whose request carries the deadline they speak of in `due_at` (the answer deadline, or
# for the contact kinds the customer-contact deadline).
_DEADLINE_KINDS = frozenset(
    ("notification", "reminder", "team_assigned", "contact_reminder", "contact_overdue")
)
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_DEFAULT_DOMAIN = "fasttrack.localhost"


class ComposeError(ValueError):
    """The request cannot become an email (unknown kind, missing partner or detail)."""


@dataclass
class Composed:
    message_id: str
    subject: str
    to: list[str]
    cc: list[str]
    text: str
    html: str
    outgoing: Outgoing

    @cached_property
    def message(self) -> EmailMessage:
        """The message as the standard library reads it (for inspection)."""
        return self.outgoing.parsed()


@cache
def _environment(tag: str) -> Environment:
    """The email templates compiled in `tag` (see `mail.jinja`)."""
    return i18n_environment(
        locale=tag,
        loader=FileSystemLoader(TEMPLATES_DIR),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # templates change with a deploy (a restart), not under a running worker
    )


_inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def compose(
    request: EmailRequest,
    settings: Settings,
    links: dict[str, str] | None = None,
    *,
    now: datetime | None = None,
) -> Composed:
    """Render `request` as a ready-to-send message (see the module docstring for the rules)
    with the given `links` (`as_sent` signs the notification's own)."""
    return _compose(request, settings, make_message_id(request, settings), links, now)


def as_sent(request: EmailRequest, settings: Settings, *, now: datetime | None = None) -> Composed:
    """The message as the email activity sends it: its Message-ID, then the notification's
    action links signed for that message, then the rendering, in one pass."""
    message_id = make_message_id(request, settings)
    links = signed_links(request, settings, message_id)
    return _compose(request, settings, message_id, links, now)


def signed_links(
    request: EmailRequest, settings: Settings, message_id: str
) -> dict[str, str] | None:
    """A notification's view link and its accept and decline links, signed with LINK_SECRET
    and valid until LINK_LIFETIME after its deadline; other kinds have none."""
    if request.kind != "notification" or request.partner is None:
        return None
    base = settings.portal_url
    expires = (request.due_at or datetime.now(UTC)) + LINK_LIFETIME
    links = {"view": f"{base}/referrals/{request.scope_id}"}
    for action in ("accept", "decline"):
        claims = LinkClaims(
            request.scope_id,
            request.partner.mpn_id,
            action,
            expires,
            link_nonce(message_id, action),
        )
        links[action] = f"{base}/act/{sign_link(settings.link_secret.get_secret_value(), claims)}"
    return links


def _compose(
    request: EmailRequest,
    settings: Settings,
    message_id: str,
    links: dict[str, str] | None,
    now: datetime | None,
) -> Composed:
    _validate(request)
    to, cc = recipients(request, settings)
    tag = locale_of(request, settings)
    with i18n.using(tag):
        subject = wording.subject(request)
        text, html = render(request.kind, _context(request, settings, links, subject))
    extra = {
        "X-FastTrack-Referral": request.referral.referral_id,
        "X-FastTrack-Kind": request.kind,
        "Content-Language": tag,
    }
    outgoing = build_message(
        message_id, settings.mail_from, to, cc, subject, text, html, extra, now or datetime.now(UTC)
    )
    return Composed(message_id, subject, to, cc, text, html, outgoing)


def locale_of(request: EmailRequest, settings: Settings) -> str:
    """Partner emails in the partner's language; the account team's and operations' in
    PROGRAM_LOCALE."""
    if request.kind in PARTNER_KINDS and request.partner is not None:
        return request.partner.locale or settings.program_locale
    return settings.program_locale


def render(template: str, context: dict[str, Any]) -> tuple[str, str]:
    """`<template>.txt.j2` and `<template>.html.j2` rendered in the current language; the HTML
    with inlined CSS."""
    env = _environment(i18n.current())
    text = env.get_template(f"{template}.txt.j2").render(context)
    html = _inliner.inline(env.get_template(f"{template}.html.j2").render(context))
    return text, html


def build_message(
    message_id: str,
    sender: str,
    to: list[str],
    cc: list[str],
    subject: str,
    text: str,
    html: str,
    extra_headers: dict[str, str],
    now: datetime,
) -> Outgoing:
    """A multipart/alternative (text, HTML) message with the product's standard headers."""
    headers = [
        ("Message-ID", message_id),
        ("Date", format_datetime(now)),
        ("From", sender),
        ("To", ", ".join(to)),
    ]
    if cc:
        headers.append(("Cc", ", ".join(cc)))
    headers += [("Subject", subject), ("Auto-Submitted", "auto-generated")]
    headers += list(extra_headers.items())
    raw = alternative(headers, text, html)
    return Outgoing(message_id, parseaddr(sender)[1], list(to), list(cc), raw)


def recipients(request: EmailRequest, settings: Settings) -> tuple[list[str], list[str]]:
    """(To, Cc) for the request's kind, de-duplicated; Cc never repeats a To address."""
    kind = request.kind
    if kind in PARTNER_KINDS:
        assert request.partner is not None  # checked by _validate
        to = [request.partner.referral_contact]
        cc = list(request.referral.account_team) if kind == "notification" else []
    elif kind in TEAM_KINDS:
        to = list(request.referral.account_team) or [settings.ops_email]
        cc = []
    else:
        to, cc = [settings.ops_email], []
    to = _unique(to)
    seen = {address.lower() for address in to}
    return to, [address for address in _unique(cc) if address.lower() not in seen]


def make_message_id(request: EmailRequest, settings: Settings) -> str:
    kind = request.kind
    if kind == "delivery_failure" and request.detail.get("kind"):
        kind = f"{kind}-{request.detail['kind']}"
    parts = (_id_part(request.scope_id), str(request.seq), _id_part(kind))
    return f"<{'.'.join(parts)}@{_domain(settings.mail_from)}>"


def view_link(settings: Settings, referral_id: str) -> str:
    return f"{settings.portal_url.rstrip('/')}/referrals/{quote(referral_id, safe='')}"


# ---------------------------------------------------------------------------------------


def _validate(request: EmailRequest) -> None:
    if request.kind not in KINDS:
        raise ComposeError(f"unknown email kind {request.kind!r}")
    if request.kind in NEEDS_PARTNER and request.partner is None:
        raise ComposeError(f"email kind {request.kind!r} needs the partner")
    missing = [k for k in REQUIRED_DETAIL.get(request.kind, ()) if k not in request.detail]
    if missing:
        raise ComposeError(f"email kind {request.kind!r} needs detail {', '.join(missing)}")


# The recipient partner's own outcome that a partner email tells of (the others go to a
# partner that holds the referral): what it may still see is `domain.visibility`'s rule.
TELLS_OUTCOME = {"expired": Outcome.EXPIRED, "decline_ack": Outcome.DECLINED}


def shows_customer(request: EmailRequest) -> bool:
    """Whether the email may name the customer: always to the account team and operations,
    to a partner only as `domain.visibility` allows."""
    if request.kind not in PARTNER_KINDS:
        return True
    return sees_customer(TELLS_OUTCOME.get(request.kind, Outcome.PENDING))


def _context(
    request: EmailRequest, settings: Settings, links: dict[str, str] | None, subject: str
) -> dict[str, Any]:
    ref = request.referral
    view = (links or {}).get("view") or view_link(settings, ref.referral_id)
    workloads = request.workloads or ref.workloads
    partner = request.partner
    due_local = _deadline(request)
    benefit = ref.type == "benefit"
    if request.kind in OPS_KINDS:
        tone, banner = "ops", _("FastTrack referrals · Operations")
    elif benefit:
        tone, banner = "benefit", _("FastTrack Benefit referral")
    else:
        tone, banner = "standard", _("Standard referral")
    audience = (
        "partner"
        if request.kind in PARTNER_KINDS
        else "team"
        if request.kind in TEAM_KINDS
        else "ops"
    )
    # in the text, not as facts
    shown_apart = {"due_local", "note", "reason", "reminded", "candidates", "missing", "match_note"}
    extra_keys = set(REQUIRED_DETAIL.get(request.kind, ())) | shown_apart
    return {
        "kind": request.kind,
        "subject": subject,
        "tone": tone,
        "banner": banner,
        "audience": audience,
        "benefit": benefit,
        "referral_id": ref.referral_id,
        "scope_id": request.scope_id,
        "seq": request.seq,
        "locale": i18n.current(),
        "customer": None
        if not shows_customer(request)
        else {
            "name": ref.customer.name,
            "country": f"{formats.country(ref.customer.country)} ({ref.customer.country})",
            "language": f"{formats.language(ref.customer.language)} ({ref.customer.language})",
            "segment": display.segment(ref.customer.segment),
            "seats": formats.number(ref.customer.seats),
            "seat_count": ref.customer.seats,
            "contact": ref.customer.contact_email,
        },
        "workloads": [
            {
                "code": code,
                "name": display.workload(code),
                "usage": formats.percent(ref.active_usage.get(code)),
                "bar": _bar(ref.active_usage.get(code)),
            }
            for code in workloads
        ],
        "split": set(workloads) != set(ref.workloads),
        "all_workloads": [display.workload(code) for code in ref.workloads],
        "notes": ref.notes.strip(),
        "requester": {
            "name": ref.requested_by.name or ref.requested_by.email or _("not recorded"),
            "email": ref.requested_by.email,
            "microsoft": ref.requested_by.microsoft,
        },
        "account_team": list(ref.account_team),
        "partner": (
            {
                "name": partner.name,
                "mpn_id": partner.mpn_id,
                "contact": partner.referral_contact,
                "timezone": partner.timezone,
            }
            if partner
            else None
        ),
        "due_local": due_local,
        "sla_days": settings.sla_business_days,
        "links": {
            "view": view,
            "accept": (links or {}).get("accept") or view,
            "decline": (links or {}).get("decline") or view,
            "account_team_contacted": f"{view}#form-account_team_contacted",
        },
        "detail": dict(request.detail) | _worded(request),
        "answer": _answer(request),
        "steps": wording.steps(request, settings),
        "currency": settings.program_currency,
        "extra": [
            (display.label(k), v) for k, v in sorted(request.detail.items()) if k not in extra_keys
        ],
        "ops_email": settings.ops_email,
        "portal_url": settings.portal_url.rstrip("/"),
    }


def _worded(request: EmailRequest) -> dict[str, str]:
    """Detail values the email words in its own language (an escalation's why, from the
    match's values; the English `why` stays for an older request without them)."""
    if request.kind == "escalation" and (match := escalation_match(request.detail)) is not None:
        return {"why": display.escalation_why(match)}
    return {}


def _deadline(request: EmailRequest) -> str:
    """The deadline the email speaks of, in the partner's zone and the email's language;
    other kinds bring it pre-formatted (`due_local`), if any."""
    zone = request.partner.timezone if request.partner else "UTC"
    if request.kind in _DEADLINE_KINDS and request.due_at is not None:
        return formats.moment_long(request.due_at, zone)
    return request.detail.get("due_local", "")


def _answer(request: EmailRequest) -> str:
    """The refusal's text in the email's language when it is one of the program's answers."""
    message = request.detail.get("message", "")
    text = program_answer(message)
    return i18n.translate(text) if text is not None else message


def _bar(value: float | None) -> int:
    """Width (0-100) of the usage bar."""
    if value is None:
        return 0
    pct = value * 100 if value <= 1 else value
    return max(0, min(100, round(pct)))


def _unique(addresses: list[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    parsed = (pair for a in addresses if a and a.strip() for pair in parse_addresses(a))
    for _name, address in parsed:
        if address and address.lower() not in seen:
            seen.add(address.lower())
            out.append(address)
    return out


def _id_part(text: str) -> str:
    return _ID_UNSAFE.sub("-", text).strip("-") or "x"


@lru_cache(maxsize=64)
def _domain(mail_from: str) -> str:
    address = parseaddr(mail_from)[1]
    domain = address.rpartition("@")[2]
    cleaned = re.sub(r"[^A-Za-z0-9.-]+", "", domain).strip(".-")
    return cleaned or _DEFAULT_DOMAIN
