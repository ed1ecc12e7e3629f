"""Strict parsing of the contract's partner-profile and referral JSON into domain objects.

Every problem raises `ValidationError` whose message is one line naming the object and the
field, e.g. ``partner 4711001: unknown workload 'skype' in workloads (allowed: teams, ...)``.
The `load_*` functions take a whole file (one object or a list) and validate all of it before
returning anything.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import unicodedata
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, NoReturn
from zoneinfo import available_timezones

from domain.models import (
    REFERRAL_TYPES,
    SEGMENTS,
    WORKLOADS,
    Customer,
    PartnerProfile,
    Referral,
    Requester,
)

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
    "paused_until",
    "max_open_referrals",
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

_MPN_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
_REFERRAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(
    rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]{{1,64}}@(?:{_LABEL}(?:\.{_LABEL})+|localhost)$"
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MAX_LINE = 200
_MAX_NOTES = 10_000
_UNSET: Any = object()


class ValidationError(ValueError):
    """Input does not follow the contract; the message is one line for the user."""


def new_referral_id() -> str:
    """A fresh referral id: ``FT-<year>-<8 uppercase hex digits>``."""
    return f"FT-{datetime.now(UTC).year}-{uuid.uuid4().hex[:8].upper()}"


# ---------------------------------------------------------------------------------------
# Helpers: one reader per object, its label prefixing every message
# ---------------------------------------------------------------------------------------


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _show(value: object) -> str:
    """A short, single-line rendering of a user's value for a message."""
    try:
        text = repr(value)
    except ValueError:  # an integer too long to print
        return "a huge number"
    return text if len(text) <= 40 else text[:37] + "..."


def _label(kind: str, ident: str, where: str) -> str:
    if ident and where:
        return f"{kind} {ident} ({where})"
    return " ".join(part for part in (kind, ident or where) if part)


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones() - {"localtime", "posixrules", "Factory"})


class _Reader:
    """Reads the fields of one JSON object; every failure names `label` and the field."""

    def __init__(self, label: str, data: object, fields: tuple[str, ...], path: str = "") -> None:
        self.label = label
        self.path = path
        if not isinstance(data, dict):
            where = f"{path} must be" if path else "must be"
            self.fail(f"{where} a JSON object, got {_kind(data)}")
        for key in data:
            if not isinstance(key, str):
                self.fail(f"field names must be strings, got {_show(key)}")
        unknown = [key for key in data if key not in fields]
        if unknown:
            key = unknown[0]
            guess = difflib.get_close_matches(key, fields, n=1)
            hint = f"did you mean {guess[0]!r}?" if guess else f"allowed: {', '.join(fields)}"
            self.fail(f"unknown field {_show(self.name(key))} ({hint})")
        self.data: dict[str, object] = data

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, message: str) -> NoReturn:
        raise ValidationError(f"{self.label}: {message}")

    def child(self, key: str, fields: tuple[str, ...]) -> _Reader:
        return _Reader(self.label, self.data.get(key), fields, self.name(key))

    # -- scalars -------------------------------------------------------------------------

    def text(self, key: str, *, required: bool = False, multiline: bool = False) -> str:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(f"{self.name(key)} is required")
            return ""
        if not isinstance(value, str):
            self.fail(f"{self.name(key)} must be a string, got {_kind(value)}")
        value = value.strip()
        if required and not value:
            self.fail(f"{self.name(key)} must not be empty")
        limit = _MAX_NOTES if multiline else _MAX_LINE
        if len(value) > limit:
            self.fail(f"{self.name(key)} is longer than {limit} characters")
        allowed = "\n\t" if multiline else ""
        if any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value):
            kind = "control characters" if multiline else "line breaks or control characters"
            self.fail(f"{self.name(key)} must not contain {kind}")
        return value

    def email(self, key: str, *, required: bool = False) -> str:
        value = self.text(key, required=required)
        if value:
            self.check_email(value, self.name(key))
        return value

    def check_email(self, value: str, name: str) -> None:
        if not _EMAIL.match(value) or len(value) > 254:
            self.fail(
                f"{name} must be an email address like someone@company.example, got {_show(value)}"
            )

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, _UNSET)
        if value is _UNSET:
            return default
        if not isinstance(value, bool):
            self.fail(f"{self.name(key)} must be true or false, got {_show(value)}")
        return value

    def whole(
        self, key: str, *, minimum: int, default: int | None, nullable: bool = False
    ) -> int | None:
        value = self.data.get(key, _UNSET)
        if value is _UNSET or (value is None and nullable):
            return default if value is _UNSET else None
        words = "a positive whole number" if minimum == 1 else f"a whole number >= {minimum}"
        if nullable:
            words += " or null"
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(f"{self.name(key)} must be {words}, got {_show(value)}")
        return value

    def mpn(self, key: str, *, required: bool) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.fail(f"{self.name(key)} is required")
            return None
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**64:
            value = str(value)
        if not isinstance(value, str) or not _MPN_ID.match(value.strip()):
            self.fail(
                f"{self.name(key)} must be letters and digits (an MPN ID), got {_show(value)}"
            )
        return value.strip()

    def code(self, key: str, vocabulary: tuple[str, ...], noun: str, default: str | None) -> str:
        value = self.data.get(key)
        if value is None:
            if default is not None:
                return default
            self.fail(f"{self.name(key)} is required")
        return self.check_code(value, self.name(key), vocabulary, noun)

    def check_code(self, value: object, name: str, vocabulary: tuple[str, ...], noun: str) -> str:
        if not isinstance(value, str):
            self.fail(f"{name} must be a string, got {_kind(value)}")
        code = value.strip().lower()
        if code not in vocabulary:
            self.fail(f"unknown {noun} {_show(value)} in {name} (allowed: {', '.join(vocabulary)})")
        return code

    def country(self, key: str) -> str:
        value = self.data.get(key)
        if value is None:
            self.fail(f"{self.name(key)} is required")
        return self.check_country(value, self.name(key))

    def check_country(self, value: object, name: str) -> str:
        if not isinstance(value, str):
            self.fail(f"{name} must be a string, got {_kind(value)}")
        code = value.strip().upper()
        if code not in COUNTRY_CODES:
            hint = "did you mean 'GB'?" if code == "UK" else "use ISO 3166-1 codes like US, DE, GB"
            self.fail(f"unknown country {_show(value)} in {name} ({hint})")
        return code

    def language(self, key: str) -> str:
        value = self.data.get(key)
        if value is None:
            self.fail(f"{self.name(key)} is required")
        return self.check_language(value, self.name(key))

    def check_language(self, value: object, name: str) -> str:
        if not isinstance(value, str):
            self.fail(f"{name} must be a string, got {_kind(value)}")
        code = value.strip().lower()
        if code not in LANGUAGE_CODES:
            self.fail(
                f"unknown language {_show(value)} in {name} (use ISO 639-1 codes like en, de, ja)"
            )
        return code

    def timezone(self, key: str, default: str) -> str:
        value = self.data.get(key, _UNSET)
        if value is _UNSET:
            return default
        if not isinstance(value, str):
            self.fail(f"{self.name(key)} must be a string, got {_kind(value)}")
        if value.strip() not in _timezones():
            self.fail(
                f"unknown time zone {_show(value)} in {self.name(key)} "
                "(use an IANA name like Europe/Berlin)"
            )
        return value.strip()

    def day(self, key: str) -> date | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str) and _ISO_DATE.match(value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.fail(f"{self.name(key)} must be a date YYYY-MM-DD or null, got {_show(value)}")

    # -- lists ---------------------------------------------------------------------------

    def items(self, key: str, *, required: bool = False) -> list[object]:
        value = self.data.get(key, _UNSET)
        if value is _UNSET:
            if required:
                self.fail(f"{self.name(key)} is required")
            return []
        if not isinstance(value, list):
            self.fail(f"{self.name(key)} must be a list, got {_kind(value)}")
        if required and not value:
            self.fail(f"{self.name(key)} must not be empty")
        return value

    def unique(self, key: str, values: list[str]) -> list[str]:
        seen: set[str] = set()
        for value in values:
            if value.lower() in seen:
                self.fail(f"{self.name(key)} lists {value!r} twice")
            seen.add(value.lower())
        return values

    def codes(
        self, key: str, vocabulary: tuple[str, ...], noun: str, *, required: bool = False
    ) -> list[str]:
        items = self.items(key, required=required)
        return self.unique(
            key, [self.check_code(v, self.name(key), vocabulary, noun) for v in items]
        )

    def countries(self, key: str) -> list[str]:
        items = self.items(key)
        return self.unique(key, [self.check_country(v, self.name(key)) for v in items])

    def languages(self, key: str) -> list[str]:
        items = self.items(key)
        return self.unique(key, [self.check_language(v, self.name(key)) for v in items])

    def emails(self, key: str) -> list[str]:
        result: list[str] = []
        for value in self.items(key):
            if not isinstance(value, str):
                self.fail(f"{self.name(key)} must hold email strings, got {_kind(value)}")
            self.check_email(value.strip(), self.name(key))
            result.append(value.strip())
        return self.unique(key, result)


# ---------------------------------------------------------------------------------------
# Partner profile
# ---------------------------------------------------------------------------------------


def _mpn_label(obj: object) -> str:
    """The object's MPN ID when it is readable, for labelling messages."""
    if isinstance(obj, dict):
        value = obj.get("mpn_id")
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**64:
            value = str(value)
        if isinstance(value, str) and _MPN_ID.match(value.strip()):
            return value.strip()
    return ""


def parse_partner(obj: object, where: str = "") -> PartnerProfile:
    """A validated `PartnerProfile` from the contract's JSON object.

    `where` locates the object in its file (e.g. ``#3``) for messages.
    """
    r = _Reader(_label("partner", _mpn_label(obj), where), obj, PARTNER_FIELDS)
    mpn_id = r.mpn("mpn_id", required=True)
    assert mpn_id is not None
    min_seats = r.whole("min_seats", minimum=0, default=0)
    assert min_seats is not None
    max_seats = r.whole("max_seats", minimum=0, default=None, nullable=True)
    if max_seats is not None and max_seats < min_seats:
        r.fail(f"max_seats ({max_seats}) must not be below min_seats ({min_seats})")
    return PartnerProfile(
        mpn_id=mpn_id,
        name=r.text("name", required=True),
        referral_contact=r.email("referral_contact", required=True),
        referral_ready=r.flag("referral_ready", True),
        benefit_referrals=r.flag("benefit_referrals", False),
        fasttrack_ready=r.flag("fasttrack_ready", False),
        workloads=r.codes("workloads", WORKLOADS, "workload"),
        languages=r.languages("languages"),
        segments=r.codes("segments", SEGMENTS, "segment"),
        min_seats=min_seats,
        max_seats=max_seats,
        home_country=r.country("home_country"),
        countries=r.countries("countries"),
        timezone=r.timezone("timezone", "UTC"),
        paused_until=r.day("paused_until"),
        max_open_referrals=r.whole("max_open_referrals", minimum=1, default=None, nullable=True),
    )


def partner_to_json(p: PartnerProfile) -> dict[str, Any]:
    """The contract's JSON object for a partner profile (dates as ISO strings)."""
    return {
        "mpn_id": p.mpn_id,
        "name": p.name,
        "referral_contact": p.referral_contact,
        "referral_ready": p.referral_ready,
        "benefit_referrals": p.benefit_referrals,
        "fasttrack_ready": p.fasttrack_ready,
        "workloads": list(p.workloads),
        "languages": list(p.languages),
        "segments": list(p.segments),
        "min_seats": p.min_seats,
        "max_seats": p.max_seats,
        "home_country": p.home_country,
        "countries": list(p.countries),
        "timezone": p.timezone,
        "paused_until": p.paused_until.isoformat() if p.paused_until else None,
        "max_open_referrals": p.max_open_referrals,
    }


# ---------------------------------------------------------------------------------------
# Referral
# ---------------------------------------------------------------------------------------


def _referral_id_label(obj: object) -> str:
    if isinstance(obj, dict):
        value = obj.get("referral_id")
        if isinstance(value, str) and _REFERRAL_ID.match(value.strip()):
            return value.strip()
    return ""


def _customer(r: _Reader) -> Customer:
    if r.data.get("customer") is None:
        r.fail("customer is required")
    c = r.child("customer", CUSTOMER_FIELDS)
    seats = c.whole("seats", minimum=1, default=None)
    if seats is None:
        c.fail("customer.seats is required")
    return Customer(
        name=c.text("name", required=True),
        country=c.country("country"),
        language=c.language("language"),
        segment=c.code("segment", SEGMENTS, "segment", "commercial"),
        seats=seats,
        tenant_id=c.text("tenant_id"),
        contact_email=c.email("contact_email"),
    )


def _active_usage(r: _Reader, workloads: list[str]) -> dict[str, float]:
    value = r.data.get("active_usage")
    if value is None:
        return {}
    if not isinstance(value, dict):
        r.fail(f"active_usage must be a JSON object, got {_kind(value)}")
    usage: dict[str, float] = {}
    for raw_key, share in value.items():
        key = raw_key.strip().lower() if isinstance(raw_key, str) else raw_key
        name = f"active_usage.{key}" if isinstance(key, str) else "active_usage"
        if key not in workloads:
            r.fail(
                f"active_usage names {_show(raw_key)}, which is not a requested workload "
                f"(requested: {', '.join(workloads)})"
            )
        if key in usage:
            r.fail(f"active_usage lists {key!r} twice")
        if (
            isinstance(share, bool)
            or not isinstance(share, int | float)
            or not math.isfinite(share)
        ):
            r.fail(f"{name} must be a number from 0 to 1, got {_show(share)}")
        if not 0 <= share <= 1:
            r.fail(f"{name} must be a number from 0 to 1 (a share of seats), got {_show(share)}")
        usage[key] = float(share)
    return usage


def _requester(r: _Reader) -> Requester:
    if r.data.get("requested_by") is None:
        return Requester()
    q = r.child("requested_by", REQUESTER_FIELDS)
    return Requester(
        name=q.text("name"), email=q.email("email"), microsoft=q.flag("microsoft", False)
    )


def parse_referral(
    obj: object, where: str = "", new_id: Callable[[], str] | None = None
) -> Referral:
    """A validated `Referral` from the contract's JSON object.

    A missing `referral_id` is generated with `new_id` (default: `new_referral_id`).
    `where` locates the object in its file (e.g. ``#2``) for messages.
    """
    r = _Reader(_label("referral", _referral_id_label(obj), where), obj, REFERRAL_FIELDS)
    referral_id = r.data.get("referral_id")
    if referral_id is not None:
        if not isinstance(referral_id, str) or not _REFERRAL_ID.match(referral_id.strip()):
            r.fail(
                "referral_id must be 1-64 letters, digits, '.', '_' or '-' starting with a "
                f"letter or digit, got {_show(referral_id)}"
            )
        referral_id = referral_id.strip()
    type_ = r.code("type", REFERRAL_TYPES, "referral type", None)
    customer = _customer(r)
    workloads = r.codes("workloads", WORKLOADS, "workload", required=True)
    referral = Referral(
        referral_id="",
        type=type_,
        customer=customer,
        workloads=workloads,
        active_usage=_active_usage(r, workloads),
        notes=r.text("notes", multiline=True),
        requested_by=_requester(r),
        account_team=r.emails("account_team"),
        cpor_partner=r.mpn("cpor_partner", required=False),
    )
    if referral_id is None:
        referral_id = (new_id or new_referral_id)()
        if not isinstance(referral_id, str) or not _REFERRAL_ID.match(referral_id):
            r.fail(f"generated referral_id {_show(referral_id)} is not a valid id")
    referral.referral_id = referral_id
    return referral


def referral_to_json(r: Referral) -> dict[str, Any]:
    """The contract's JSON object for a referral."""
    c = r.customer
    return {
        "referral_id": r.referral_id,
        "type": r.type,
        "customer": {
            "name": c.name,
            "tenant_id": c.tenant_id,
            "country": c.country,
            "language": c.language,
            "segment": c.segment,
            "seats": c.seats,
            "contact_email": c.contact_email,
        },
        "workloads": list(r.workloads),
        "active_usage": dict(r.active_usage),
        "notes": r.notes,
        "requested_by": {
            "name": r.requested_by.name,
            "email": r.requested_by.email,
            "microsoft": r.requested_by.microsoft,
        },
        "account_team": list(r.account_team),
        "cpor_partner": r.cpor_partner,
    }


# ---------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise ValidationError(f"invalid JSON: key {_show(key)} appears twice in one object")
        result[key] = value
    return result


def _no_constants(name: str) -> NoReturn:
    raise ValidationError(f"invalid JSON: {name} is not a number")


def _objects(text: str, noun: str) -> list[tuple[str, object]]:
    """The file's objects, each with its location (``#n`` in a list, "" when alone)."""
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except ValidationError:
        raise
    except RecursionError:
        raise ValidationError("invalid JSON: nested too deeply") from None
    except (ValueError, TypeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValidationError(f"invalid JSON: {detail}") from None
    if isinstance(data, dict):
        return [("", data)]
    if isinstance(data, list):
        if not data:
            raise ValidationError(
                f"the file holds no {noun}s (expected an object or a list of them)"
            )
        return [(f"#{i}", item) for i, item in enumerate(data, start=1)]
    raise ValidationError(f"expected a {noun} object or a list of them, got {_kind(data)}")


def load_partners(text: str) -> list[PartnerProfile]:
    """All partner profiles of a JSON file (one object or a list); all valid or an error."""
    partners: list[PartnerProfile] = []
    seen: dict[str, str] = {}
    for where, obj in _objects(text, "partner"):
        partner = parse_partner(obj, where)
        if partner.mpn_id in seen:
            raise ValidationError(
                f"{_label('partner', partner.mpn_id, where)}: duplicate mpn_id "
                f"(already used by {seen[partner.mpn_id]})"
            )
        seen[partner.mpn_id] = where
        partners.append(partner)
    return partners


def load_referrals(text: str, new_id: Callable[[], str] | None = None) -> list[Referral]:
    """All referrals of a JSON file (one object or a list); all valid or an error.

    The same `referral_id` twice is accepted only when both entries are identical (creating
    it twice is idempotent); two different referrals sharing an id are an error.
    """
    referrals: list[Referral] = []
    seen: dict[str, tuple[str, Referral]] = {}
    for where, obj in _objects(text, "referral"):
        referral = parse_referral(obj, where, new_id)
        earlier = seen.get(referral.referral_id)
        if earlier is not None and earlier[1] != referral:
            raise ValidationError(
                f"{_label('referral', referral.referral_id, where)}: referral_id already used by "
                f"a different referral ({earlier[0]})"
            )
        seen[referral.referral_id] = (where, referral)
        referrals.append(referral)
    return referrals
