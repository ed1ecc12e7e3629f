"""Human-readable names for the contract's codes, used by the email templates."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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

SEGMENT_NAMES: dict[str, str] = {
    "commercial": "Commercial",
    "education": "Education",
    "government": "Government",
    "nonprofit": "Non-profit",
}

REASON_NAMES: dict[str, str] = {
    "customer_working_with_other_partner": "Customer already works with another partner",
    "customer_unresponsive": "Customer is unresponsive",
    "legal_or_political": "Legal or political obstacles",
    "customer_type_not_supported": "Customer type not supported",
    "language_not_supported": "Requested language not supported",
    "partner_at_capacity": "Partner at capacity",
    "customer_prefers_fasttrack_center": "Customer prefers the FastTrack Center",
    "account_team_declines_partner": "Account team does not want a partner",
    "other": "Other",
    "expired": "No answer within the response window",
    "withdrawn": "Withdrawn by operations",
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


KIND_NAMES: dict[str, str] = {
    "notification": "New referral notification (partner)",
    "reminder": "Response reminder (partner)",
    "expired": "Referral taken back (partner)",
    "decline_ack": "Decline confirmation (partner)",
    "decline_refused": "Decline refused (partner)",
    "contact_reminder": "Customer contact reminder (partner)",
    "team_assigned": "Partner assigned (account team)",
    "team_accepted": "Partner accepted (account team)",
    "team_reassigned": "Reassignment notice (account team)",
    "contact_overdue": "Customer contact overdue (account team)",
    "team_completed": "Engagement completed (account team)",
    "escalation": "Escalation (operations)",
    "delivery_failure": "Delivery failure (operations)",
}


def kind(code: str) -> str:
    return KIND_NAMES.get(code, code)


def workload(code: str) -> str:
    return WORKLOAD_NAMES.get(code, code.replace("_", " ").title())


def segment(code: str) -> str:
    return SEGMENT_NAMES.get(code, code.replace("_", " ").title())


def reason(code: str) -> str:
    """A decline reason code as words; free text passes through unchanged."""
    return REASON_NAMES.get(code, code)


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
        return "Yes"
    if value in ("0", "false", "no", "n", "off", ""):
        return "No"
    return text


def local_time(moment: datetime, timezone: str) -> str:
    """`Tue 1 Dec 2026 15:00 CET` in the given IANA zone (UTC if the zone is unknown)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M %Z}"
