"""The contract's vocabularies: country, language and time-zone codes, each object's fields,
and the patterns of ids and email addresses."""

from __future__ import annotations

import re
from functools import lru_cache
from zoneinfo import available_timezones

# ISO 3166-1 alpha-2 country codes and ISO 639-1 language codes.
_COUNTRIES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
"""
_LANGUAGES = """
    aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv
    cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr
    ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw
    ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv
    ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr
    ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi
    yo za zh zu
"""
COUNTRY_CODES: frozenset[str] = frozenset(_COUNTRIES.split())
LANGUAGE_CODES: frozenset[str] = frozenset(_LANGUAGES.split())

PARTNER_FIELDS: tuple[str, ...] = (
    "mpn_id",
    "name",
    "referral_contact",
    "referral_ready",
    "benefit_referrals",
    "fasttrack_ready",
    "workloads",
    "languages",
    "segments",
    "min_seats",
    "max_seats",
    "home_country",
    "countries",
    "timezone",
    "locale",
    "paused_until",
    "max_open_referrals",
    "portal_users",
)
REFERRAL_FIELDS: tuple[str, ...] = (
    "referral_id",
    "type",
    "customer",
    "workloads",
    "active_usage",
    "notes",
    "requested_by",
    "account_team",
    "cpor_partner",
)
CUSTOMER_FIELDS: tuple[str, ...] = (
    "name",
    "tenant_id",
    "country",
    "language",
    "segment",
    "seats",
    "contact_email",
)
REQUESTER_FIELDS: tuple[str, ...] = ("name", "email", "microsoft")

MPN_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
REFERRAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL = re.compile(
    rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]{{1,64}}@(?:{_LABEL}(?:\.{_LABEL})+|localhost)$"
)
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_LINE = 200
MAX_NOTES = 10_000


@lru_cache(maxsize=1)
def timezones() -> frozenset[str]:
    """The IANA time-zone names a profile may use."""
    return frozenset(available_timezones() - {"localtime", "posixrules", "Factory"})
