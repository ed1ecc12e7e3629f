"""Human-readable names for the contract's codes, used by the email templates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.matching import NOTE_NO_SINGLE
from domain.models import MatchExplanation
from domain.text import Text, trp
from domain.transitions import escalation_match
from mail import formats, i18n

WORKLOAD_NAMES: dict[str, str] = {
    "teams": "Microsoft Teams",
    "exchange": "Exchange Online",
    "sharepoint": "SharePoint Online",
    "onedrive": "OneDrive",
    "intune": "Microsoft Intune",
    "entra_id": "Microsoft Entra ID",
    "defender": "Microsoft Defender",
    "purview": "Microsoft Purview",
    "copilot": "Microsoft 365 Copilot",
    "windows": "Windows",
}

SEGMENT_NAMES: dict[str, Text] = {
    "commercial": trp("segment", "Commercial"),
    "education": trp("segment", "Education"),
    "government": trp("segment", "Government"),
    "nonprofit": trp("segment", "Non-profit"),
}

REASON_NAMES: dict[str, Text] = {
    "customer_working_with_other_partner": trp(
        "decline reason", "Customer already works with another partner"
    ),
    "customer_unresponsive": trp("decline reason", "Customer is unresponsive"),
    "legal_or_political": trp("decline reason", "Legal or political obstacles"),
    "customer_type_not_supported": trp("decline reason", "Customer type not supported"),
    "language_not_supported": trp("decline reason", "Requested language not supported"),
    "partner_at_capacity": trp("decline reason", "Partner at capacity"),
    "customer_prefers_fasttrack_center": trp(
        "decline reason", "Customer prefers the FastTrack Center"
    ),
    "account_team_declines_partner": trp("decline reason", "Account team does not want a partner"),
    "other": trp("decline reason", "Other"),
    "expired": trp("decline reason", "No answer within the response window"),
    "withdrawn": trp("decline reason", "Withdrawn by operations"),
}

LANGUAGE_NAMES: dict[str, str] = {
    "ar": "Arabic",
    "cs": "Czech",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "fi": "Finnish",
    "fr": "French",
    "he": "Hebrew",
    "hi": "Hindi",
    "hu": "Hungarian",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "nb": "Norwegian",
    "nl": "Dutch",
    "no": "Norwegian",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sv": "Swedish",
    "th": "Thai",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "zh": "Chinese",
}

COUNTRY_NAMES: dict[str, str] = {
    "AE": "United Arab Emirates",
    "AR": "Argentina",
    "AT": "Austria",
    "AU": "Australia",
    "BE": "Belgium",
    "BR": "Brazil",
    "CA": "Canada",
    "CH": "Switzerland",
    "CL": "Chile",
    "CN": "China",
    "CO": "Colombia",
    "CZ": "Czechia",
    "DE": "Germany",
    "DK": "Denmark",
    "ES": "Spain",
    "FI": "Finland",
    "FR": "France",
    "GB": "United Kingdom",
    "GR": "Greece",
    "HU": "Hungary",
    "IE": "Ireland",
    "IL": "Israel",
    "IN": "India",
    "IT": "Italy",
    "JP": "Japan",
    "KR": "South Korea",
    "MX": "Mexico",
    "NL": "Netherlands",
    "NO": "Norway",
    "NZ": "New Zealand",
    "PL": "Poland",
    "PT": "Portugal",
    "RO": "Romania",
    "SA": "Saudi Arabia",
    "SE": "Sweden",
    "SG": "Singapore",
    "TR": "Türkiye",
    "UA": "Ukraine",
    "US": "United States",
    "ZA": "South Africa",
}


KIND_NAMES: dict[str, Text] = {
    "notification": trp("email kind", "New referral notification (partner)"),
    "reminder": trp("email kind", "Response reminder (partner)"),
    "expired": trp("email kind", "Referral taken back (partner)"),
    "decline_ack": trp("email kind", "Decline confirmation (partner)"),
    "decline_refused": trp("email kind", "Decline refused (partner)"),
    "contact_reminder": trp("email kind", "Customer contact reminder (partner)"),
    "team_assigned": trp("email kind", "Partner assigned (account team)"),
    "team_accepted": trp("email kind", "Partner accepted (account team)"),
    "team_reassigned": trp("email kind", "Reassignment notice (account team)"),
    "contact_overdue": trp("email kind", "Customer contact overdue (account team)"),
    "team_completed": trp("email kind", "Engagement completed (account team)"),
    "escalation": trp("email kind", "Escalation (operations)"),
    "delivery_failure": trp("email kind", "Delivery failure (operations)"),
}


def named(names: Mapping[str, Text], code: str, fallback: str | None = None) -> str:
    """`code`'s name from `names` in the current language; without one, `fallback` (default:
    the code itself)."""
    name = names.get(code)
    if name:
        return i18n.translate(name)
    return code if fallback is None else fallback


def kind(code: str) -> str:
    return named(KIND_NAMES, code)


def workload(code: str) -> str:
    return WORKLOAD_NAMES.get(code, code.replace("_", " ").title())


def segment(code: str) -> str:
    return named(SEGMENT_NAMES, code, code.replace("_", " ").title())


def reason(code: str) -> str:
    """A decline reason code as words; free text passes through unchanged."""
    return named(REASON_NAMES, code)


def language(code: str) -> str:
    name = LANGUAGE_NAMES.get(code.lower())
    return f"{name} ({code})" if name else code


def country(code: str) -> str:
    name = COUNTRY_NAMES.get(code.upper())
    return f"{name} ({code.upper()})" if name else code


def label(key: str) -> str:
    """A detail key as a label: `failed_message_id` → `Failed message id`."""
    return key.replace("_", " ").strip().capitalize()


def seats(count: int) -> str:
    return f"{count:,}"


def percent(value: float | None) -> str:
    """Active usage as a percentage; figures above 1 are taken as already in percent."""
    if value is None:
        return "not reported"
    pct = value * 100 if value <= 1 else value
    return f"{pct:.0f}%" if pct >= 10 or pct == int(pct) else f"{pct:.1f}%"


def money(text: str) -> str:
    """Format an amount given as text (`12000` → `12,000`); other text is kept."""
    try:
        amount = float(text)
    except ValueError:
        return text
    return f"{amount:,.0f}" if amount == int(amount) else f"{amount:,.2f}"


def yes_no(text: str) -> str:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "y", "on"):
        return i18n._("Yes")
    if value in ("0", "false", "no", "n", "off", ""):
        return i18n._("No")
    return text


def local_time(moment: datetime, timezone: str) -> str:
    """`Tue 1 Dec 2026 15:00 CET` in the given IANA zone (UTC if the zone is unknown)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M %Z}"


STATUS_NAMES: dict[str, Text] = {
    "pending": trp("referral status", "pending"),
    "notifying": trp("referral status", "notifying"),
    "active": trp("referral status", "active"),
    "completed": trp("referral status", "completed"),
    "escalated": trp("referral status", "escalated"),
    "cancelled": trp("referral status", "cancelled"),
    "split": trp("referral status", "split"),
}

OUTCOME_NAMES: dict[str, Text] = {
    "pending": trp("assignment outcome", "pending"),
    "accepted": trp("assignment outcome", "accepted"),
    "declined": trp("assignment outcome", "declined"),
    "expired": trp("assignment outcome", "expired"),
    "completed": trp("assignment outcome", "completed"),
    "withdrawn": trp("assignment outcome", "withdrawn"),
}

HISTORY_NAMES: dict[str, Text] = {
    "created": trp("history", "created"),
    "assigned": trp("history", "assigned"),
    "released": trp("history", "released"),
    "notified": trp("history", "notified"),
    "notification_delayed": trp("history", "notification delayed"),
    "reminded": trp("history", "reminded"),
    "expired": trp("history", "expired"),
    "escalated": trp("history", "escalated"),
    "contact_overdue": trp("history", "customer contact overdue"),
    "accept": trp("history", "accept"),
    "accepted": trp("history", "accepted"),
    "decline": trp("history", "decline"),
    "declined": trp("history", "declined"),
    "contacted": trp("history", "customer contacted"),
    "kickoff": trp("history", "kick-off"),
    "cpor_claimed": trp("history", "CPOR claimed"),
    "complete": trp("history", "complete"),
    "completed": trp("history", "completed"),
    "retry": trp("history", "retry"),
    "cancelled": trp("history", "cancelled"),
    "part_changed": trp("history", "part changed"),
    "split": trp("history", "split"),
    "profile_updated": trp("history", "profile updated"),
    "paused": trp("history", "paused"),
    "resumed": trp("history", "resumed"),
    "profile_created": trp("history", "profile created"),
    "pause_ended": trp("history", "pause ended"),
    "token_issued": trp("history", "API token issued"),
    "tokens_revoked": trp("history", "API tokens revoked"),
    "claim_created": trp("history", "CPOR claim created"),
    "claim_updated": trp("history", "CPOR claim updated"),
    "claim_revoked": trp("history", "CPOR claim revoked"),
    "account_team_contacted": trp("history", "account team contacted"),
    "email_failed": trp("history", "email failed"),
    "parent_unreachable": trp("history", "parent referral unreachable"),
    "part_failed": trp("history", "part failed"),
    "cancel": trp("history", "cancel"),
    "unknown": trp("history", "unknown action"),
    "webhook_added": trp("history", "webhook endpoint added"),
    "webhook_removed": trp("history", "webhook endpoint removed"),
    "webhook_rotated": trp("history", "webhook secret rotated"),
    "webhook_disabled": trp("history", "webhook endpoint disabled"),
}


# `domain.matching.CRITERIA`: each criterion by what a partner must meet.
CRITERION_NAMES: dict[str, Text] = {
    "type_opt_in": trp("criterion", "opted in to the referral type"),
    "not_paused": trp("criterion", "not paused"),
    "workloads": trp("criterion", "endorsed for the workloads"),
    "language": trp("criterion", "speaks the customer's language"),
    "segment": trp("criterion", "serves the customer's segment"),
    "seats": trp("criterion", "takes the customer's seat count"),
    "country": trp("criterion", "serves the customer's country"),
    "not_excluded": trp("criterion", "not tried on this referral before"),
    "capacity": trp("criterion", "has room for another referral"),
}


def criterion(code: str) -> str:
    return named(CRITERION_NAMES, code, code.replace("_", " "))


def escalation_why(e: MatchExplanation) -> str:
    """Why the match found nobody, in the reader's language (the state keeps it in English
    for the CLI and the API)."""
    if e.missing:
        why = i18n._(
            "No eligible partner covers %(workloads)s.",
            workloads=", ".join(workload(w) for w in e.missing),
        )
    elif e.note == NOTE_NO_SINGLE:
        why = i18n._("No single eligible partner covers every workload.")
    else:
        why = i18n._("No eligible partner.")
    considered = i18n._n("%(n)s partner considered.", "%(n)s partners considered.", e.candidates)
    return f"{why} {considered}"


def history_words(action: str, detail: str, params: Mapping[str, str]) -> tuple[str, str]:
    """A timeline entry's detail for a page: (text, "en" when it is English left as it was,
    "" when it is in the reader's language or a person's own words). Entries recorded before
    their values were kept show their English detail."""
    p = params
    partner = p.get("partner", "")
    if action == "created" and "workloads" in p:
        names = ", ".join(workload(w) for w in p["workloads"].split(", ") if w)
        if p.get("type") == "benefit":
            return i18n._("Benefit referral for %(workloads)s", workloads=names), ""
        return i18n._("Standard referral for %(workloads)s", workloads=names), ""
    if action == "assigned" and partner:
        if p.get("cpor"):
            return i18n._(
                "assigned to %(partner)s (claiming partner of record)", partner=partner
            ), ""
        return i18n._("assigned to %(partner)s (ranked first)", partner=partner), ""
    if action == "released" and partner:
        return i18n._("%(partner)s released: cancelled while matching", partner=partner), ""
    if action == "notified" and partner and p.get("due"):
        due = formats.moment_short(datetime.fromisoformat(p["due"]))
        return i18n._("%(partner)s notified, answer due %(due)s", partner=partner, due=due), ""
    if action == "expired" and partner:
        return i18n._("%(partner)s did not answer by the deadline", partner=partner), ""
    if action == "contact_overdue" and partner:
        return i18n._("%(partner)s has not recorded contact", partner=partner), ""
    if action == "reminded" and partner:
        if p.get("kind") == "contact_reminder":
            return i18n._("contact reminder sent to %(partner)s", partner=partner), ""
        return i18n._("reminder sent to %(partner)s", partner=partner), ""
    if action == "escalated" and (match := escalation_match(p)) is not None:
        return escalation_why(match), ""
    if action == "declined" and p.get("reason"):
        words = reason(p["reason"])
        return (f"{words}: {p['note']}" if p.get("note") else words), ""
    if action == "account_team_contacted" and p.get("when"):
        if p["when"] == "before":
            return i18n._("before the kick-off"), ""
        return i18n._("after the kick-off"), ""
    if action == "completed" and p.get("vas"):
        if p["vas"] == "yes":
            return i18n._("value-added services sold"), ""
        return i18n._("no value-added services sold"), ""
    if action == "retry" and "note" in p and not p["note"]:
        return i18n._("matching again"), ""
    if "note" in p:  # a partner's note, an operator's reason: as they wrote it
        return detail, ""
    return detail, "en"


def status(code: str) -> str:
    return named(STATUS_NAMES, code, code.replace("_", " "))


def outcome(code: str) -> str:
    return named(OUTCOME_NAMES, code, code.replace("_", " "))


def history(code: str) -> str:
    """A timeline entry's action in words."""
    return named(HISTORY_NAMES, code, code.replace("_", " "))
