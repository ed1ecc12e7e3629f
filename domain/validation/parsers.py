"""Strict parsing of the contract's partner-profile and referral JSON into domain objects.

The `load_*` functions take a whole file (one object or a list) and validate all of it first.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NoReturn

from domain import names
from domain.models import (
    REFERRAL_TYPES,
    SEGMENTS,
    WORKLOADS,
    Customer,
    PartnerProfile,
    Referral,
    Requester,
)
from domain.validation.codes import (
    CUSTOMER_FIELDS,
    MPN_ID,
    PARTNER_FIELDS,
    REFERRAL_FIELDS,
    REFERRAL_ID,
    REQUESTER_FIELDS,
)
from domain.validation.reader import Reader, ValidationError, kind_of, object_label, show


def new_referral_id() -> str:
    """A fresh referral id: ``FT-<year>-<8 uppercase hex digits>``."""
    return f"FT-{datetime.now(UTC).year}-{uuid.uuid4().hex[:8].upper()}"


# ---------------------------------------------------------------------------------------
# Partner profile
# ---------------------------------------------------------------------------------------


def _mpn_label(obj: object) -> str:
    """The object's MPN ID when it is readable, for labelling messages."""
    if isinstance(obj, dict):
        value = obj.get("mpn_id")
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**64:
            value = str(value)
        if isinstance(value, str) and MPN_ID.match(value.strip()):
            return value.strip()
    return ""


def parse_partner(obj: object, where: str = "") -> PartnerProfile:
    """A validated `PartnerProfile` from the contract's JSON object.

    `where` locates the object in its file (e.g. ``#3``) for messages.
    """
    r = Reader(object_label("partner", _mpn_label(obj), where), obj, PARTNER_FIELDS)
    mpn_id = r.mpn("mpn_id", required=True)
    assert mpn_id is not None
    min_seats = r.whole("min_seats", minimum=0, default=0)
    assert min_seats is not None
    max_seats = r.whole("max_seats", minimum=0, default=None, nullable=True)
    if max_seats is not None and max_seats < min_seats:
        r.fail(f"max_seats ({show(max_seats)}) must not be below min_seats ({show(min_seats)})")
    home_country = r.country("home_country")
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
        home_country=home_country,
        countries=r.countries("countries"),
        timezone=r.timezone("timezone", "UTC"),
        locale=r.locale("locale", ""),  # absent: follows home_country (`effective_locale`)
        paused_until=r.day("paused_until"),
        max_open_referrals=r.whole("max_open_referrals", minimum=1, default=None, nullable=True),
        portal_users=r.emails("portal_users"),
    )


# ---------------------------------------------------------------------------------------
# Referral
# ---------------------------------------------------------------------------------------


def _referral_id_label(obj: object) -> str:
    if isinstance(obj, dict):
        value = obj.get("referral_id")
        if isinstance(value, str) and REFERRAL_ID.match(value.strip()):
            return value.strip()
    return ""


def _customer(r: Reader) -> Customer:
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


def _active_usage(r: Reader, workloads: list[str]) -> dict[str, float]:
    value = r.data.get("active_usage")
    if value is None:
        return {}
    if not isinstance(value, dict):
        r.fail(f"active_usage must be a JSON object, got {kind_of(value)}")
    usage: dict[str, float] = {}
    for raw_key, share in value.items():
        key = raw_key.strip().lower() if isinstance(raw_key, str) else raw_key
        name = f"active_usage.{key}" if isinstance(key, str) else "active_usage"
        if key not in workloads:
            r.fail(
                f"active_usage names {show(raw_key)}, which is not a requested workload "
                f"(requested: {', '.join(workloads)})"
            )
        if key in usage:
            r.fail(f"active_usage lists {key!r} twice")
        if (
            isinstance(share, bool)
            or not isinstance(share, int | float)
            or not math.isfinite(share)
        ):
            r.fail(f"{name} must be a number from 0 to 1, got {show(share)}")
        if not 0 <= share <= 1:
            r.fail(f"{name} must be a number from 0 to 1 (a share of seats), got {show(share)}")
        usage[key] = float(share)
    return usage


def _requester(r: Reader) -> Requester:
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
    r = Reader(object_label("referral", _referral_id_label(obj), where), obj, REFERRAL_FIELDS)
    referral_id = r.data.get("referral_id")
    if referral_id is not None:
        if not isinstance(referral_id, str) or not REFERRAL_ID.match(referral_id.strip()):
            r.fail(
                "referral_id must be 1-64 letters, digits, '.', '_' or '-' starting with a "
                f"letter or digit, got {show(referral_id)}"
            )
        referral_id = referral_id.strip()
        if names.ends_like_a_part(referral_id):
            r.fail(
                f"referral_id must not end in '{names.PART_SUFFIX}' and a number (reserved for "
                f"split parts), got {show(referral_id)}"
            )
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
        if not isinstance(referral_id, str) or not REFERRAL_ID.match(referral_id):
            r.fail(f"generated referral_id {show(referral_id)} is not a valid id")
    referral.referral_id = referral_id
    return referral


# ---------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise ValidationError(f"invalid JSON: key {show(key)} appears twice in one object")
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
    raise ValidationError(f"expected a {noun} object or a list of them, got {kind_of(data)}")


def load_partners(text: str) -> list[PartnerProfile]:
    """All partner profiles of a JSON file (one object or a list); all valid or an error."""
    partners: list[PartnerProfile] = []
    seen: dict[str, str] = {}
    for where, obj in _objects(text, "partner"):
        partner = parse_partner(obj, where)
        if partner.mpn_id in seen:
            raise ValidationError(
                f"{object_label('partner', partner.mpn_id, where)}: duplicate mpn_id "
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
                f"{object_label('referral', referral.referral_id, where)}: referral_id already "
                f"used by a different referral ({earlier[0]})"
            )
        seen[referral.referral_id] = (where, referral)
        referrals.append(referral)
    return referrals
