"""The languages the program serves its partners in, and which one a partner gets by default.

Tags follow BCP 47 (`pt-BR`, `zh-Hans`); a partner without a `locale` gets the language of its
home country, or English.
"""

from __future__ import annotations

LOCALES: tuple[str, ...] = ("en", "de", "fr", "es", "it", "nl", "pt-BR", "ja", "ko", "zh-Hans")
DEFAULT_LOCALE = "en"

# Home country -> default locale. Portugal gets pt-BR: the only Portuguese the program writes,
# and closer to a Portuguese reader than English. Multilingual countries (BE, CH, LU, CA) and
# Chinese variants other than Simplified stay English until their partner picks a language.
COUNTRY_LOCALES: dict[str, str] = {
    "DE": "de",
    "AT": "de",
    "LI": "de",
    "FR": "fr",
    "MC": "fr",
    "ES": "es",
    "MX": "es",
    "AR": "es",
    "CL": "es",
    "CO": "es",
    "PE": "es",
    "IT": "it",
    "SM": "it",
    "NL": "nl",
    "BR": "pt-BR",
    "PT": "pt-BR",
    "JP": "ja",
    "KR": "ko",
    "CN": "zh-Hans",
}

_BY_LOWER = {tag.lower(): tag for tag in LOCALES}


def locale_for_country(country: str) -> str:
    """The default locale of a partner whose home country is `country` (ISO 3166-1 alpha-2)."""
    return COUNTRY_LOCALES.get(country.strip().upper(), DEFAULT_LOCALE)


def parse_locale(text: str) -> str | None:
    """`text` as one of LOCALES (case and `_` / `-` forgiven), None when it is not one."""
    return _BY_LOWER.get(text.strip().replace("_", "-").lower())


def negotiate(accept_language: str, default: str = DEFAULT_LOCALE) -> str:
    """The best of LOCALES for an HTTP `Accept-Language` header (RFC 9110 weights)."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if tag and weight > 0:
            ranked.append((-weight, position, tag.strip()))
    for _, _, tag in sorted(ranked):
        found = parse_locale(tag) or _language_match(tag)
        if found:
            return found
    return default


def _language_match(tag: str) -> str | None:
    """A served locale for a tag we do not list exactly (`de-AT` -> de, `zh-CN` -> zh-Hans)."""
    lower = tag.lower()
    if lower.startswith("zh"):
        return "zh-Hans" if not any(x in lower for x in ("hant", "-tw", "-hk", "-mo")) else None
    if lower.startswith("pt"):
        return "pt-BR"
    return parse_locale(lower.split("-")[0])
