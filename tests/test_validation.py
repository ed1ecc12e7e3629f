from __future__ import annotations

import copy
import json
import re
from datetime import date
from operator import attrgetter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.models import Customer, PartnerProfile, Referral, Requester
from domain.validation import (
    CUSTOMER_FIELDS,
    PARTNER_FIELDS,
    REFERRAL_FIELDS,
    ValidationError,
    load_partners,
    load_referrals,
    new_referral_id,
    parse_partner,
    parse_referral,
    partner_to_json,
    referral_to_json,
)

DATA = Path(__file__).resolve().parent.parent / "data"
DROP = object()  # a patch value that removes the field

PARTNER: dict[str, Any] = {
    "mpn_id": "4711001",
    "name": "Contoso Cloud Services",
    "referral_contact": "referrals@contoso.example",
    "referral_ready": True,
    "benefit_referrals": True,
    "fasttrack_ready": True,
    "workloads": ["teams", "exchange", "sharepoint"],
    "languages": ["en", "de"],
    "segments": ["commercial", "education"],
    "min_seats": 150,
    "max_seats": 20000,
    "home_country": "US",
    "countries": ["CA"],
    "timezone": "America/New_York",
    "paused_until": None,
}

REFERRAL: dict[str, Any] = {
    "referral_id": "FT-2026-000123",
    "type": "benefit",
    "customer": {
        "name": "Fabrikam Ltd",
        "tenant_id": "3f2a9c1e-5b7d-4e8a-9c0f-1a2b3c4d5e61",
        "country": "DE",
        "language": "de",
        "segment": "commercial",
        "seats": 2400,
        "contact_email": "it@fabrikam.example",
    },
    "workloads": ["teams", "sharepoint"],
    "active_usage": {"teams": 0.18, "sharepoint": 0.05},
    "notes": "Wants Teams Phone and a SharePoint migration before Q2.\nSecond line.",
    "requested_by": {"name": "Ann Example", "email": "ann@microsoft.example", "microsoft": True},
    "account_team": ["ae@microsoft.example"],
    "cpor_partner": "4711001",
}


def patched(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of `base` with dotted keys replaced (or removed with DROP)."""
    result = copy.deepcopy(base)
    for dotted, value in patch.items():
        *parents, key = dotted.split(".")
        target = result
        for parent in parents:
            target = target[parent]
        if value is DROP:
            target.pop(key, None)
        else:
            target[key] = value
    return result


# ---------------------------------------------------------------------------------------
# Partners
# ---------------------------------------------------------------------------------------


def test_parse_partner_contract_example() -> None:
    p = parse_partner(PARTNER)
    assert p == PartnerProfile(
        mpn_id="4711001",
        name="Contoso Cloud Services",
        referral_contact="referrals@contoso.example",
        referral_ready=True,
        benefit_referrals=True,
        fasttrack_ready=True,
        workloads=["teams", "exchange", "sharepoint"],
        languages=["en", "de"],
        segments=["commercial", "education"],
        min_seats=150,
        max_seats=20000,
        home_country="US",
        countries=["CA"],
        timezone="America/New_York",
        locale="",  # not given: follows the home country
    )
    assert p.effective_locale == "en"


@pytest.mark.parametrize(
    ("patch", "field", "expected"),
    [
        ({"mpn_id": 4711001}, "mpn_id", "4711001"),
        ({"mpn_id": " ab12 "}, "mpn_id", "ab12"),
        ({"name": "  Contoso  "}, "name", "Contoso"),
        ({"segments": ["Education", "GOVERNMENT"]}, "segments", ["education", "government"]),
        ({"workloads": ["Teams", "entra_id"]}, "workloads", ["teams", "entra_id"]),
        ({"languages": ["EN"]}, "languages", ["en"]),
        ({"home_country": "de", "countries": ["at", "Ch"]}, "countries", ["AT", "CH"]),
        ({"home_country": "de"}, "home_country", "DE"),
        ({"paused_until": "2027-01-15"}, "paused_until", date(2027, 1, 15)),
        ({"max_seats": None}, "max_seats", None),
        ({"max_seats": 150}, "max_seats", 150),
        ({"max_open_referrals": 3}, "max_open_referrals", 3),
        ({"max_open_referrals": None}, "max_open_referrals", None),
        ({"timezone": DROP}, "timezone", "UTC"),
        ({"referral_ready": DROP}, "referral_ready", True),
        ({"fasttrack_ready": DROP}, "fasttrack_ready", False),
        ({"workloads": []}, "workloads", []),
        ({"referral_contact": "ops@localhost"}, "referral_contact", "ops@localhost"),
    ],
)
def test_parse_partner_accepts(patch: dict[str, Any], field: str, expected: object) -> None:
    assert getattr(parse_partner(patched(PARTNER, patch)), field) == expected


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (
            {"workloads": ["teams", "skype"]},
            "partner 4711001: unknown workload 'skype' in workloads (allowed: teams, exchange,",
        ),
        ({"mpn_id": DROP}, "partner: mpn_id is required"),
        ({"mpn_id": ""}, "partner: mpn_id must be letters and digits"),
        ({"mpn_id": "47-11"}, "partner: mpn_id must be letters and digits"),
        ({"mpn_id": True}, "partner: mpn_id must be letters and digits"),
        ({"mpn_id": -5}, "partner: mpn_id must be letters and digits"),
        ({"name": DROP}, "partner 4711001: name is required"),
        ({"name": "   "}, "partner 4711001: name must not be empty"),
        ({"name": "Evil\r\nBcc: x@y.example"}, "name must not contain line breaks"),
        ({"name": 42}, "name must be a string, got number"),
        ({"referral_contact": DROP}, "referral_contact is required"),
        ({"referral_contact": "not-an-email"}, "referral_contact must be an email address"),
        ({"referral_contact": "a@b"}, "referral_contact must be an email address"),
        ({"referral_contact": "a b@c.example"}, "referral_contact must be an email address"),
        ({"referral_ready": "yes"}, "referral_ready must be true or false, got 'yes'"),
        ({"benefit_referrals": 1}, "benefit_referrals must be true or false, got 1"),
        ({"fasttrack_ready": None}, "fasttrack_ready must be true or false, got None"),
        ({"workloads": "teams"}, "workloads must be a list, got string"),
        ({"workloads": ["teams", "teams"]}, "workloads lists 'teams' twice"),
        ({"workloads": [1]}, "workloads must be a string, got number"),
        ({"segments": ["corporate"]}, "unknown segment 'corporate' in segments"),
        ({"languages": ["eng"]}, "unknown language 'eng' in languages"),
        ({"languages": ["xx"]}, "unknown language 'xx' in languages"),
        ({"home_country": DROP}, "home_country is required"),
        ({"home_country": "UK"}, "unknown country 'UK' in home_country (did you mean 'GB'?)"),
        ({"countries": ["CAN"]}, "unknown country 'CAN' in countries"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus' in timezone"),
        ({"timezone": "localtime"}, "unknown time zone 'localtime'"),
        ({"timezone": "europe/berlin"}, "unknown time zone"),
        ({"min_seats": -1}, "min_seats must be a whole number >= 0, got -1"),
        ({"min_seats": 1.5}, "min_seats must be a whole number >= 0, got 1.5"),
        ({"min_seats": None}, "min_seats must be a whole number >= 0, got None"),
        ({"max_seats": 100}, "max_seats (100) must not be below min_seats (150)"),
        ({"min_seats": 2**31}, "min_seats must be at most 2147483647, got 2147483648"),
        ({"min_seats": 10**5000}, "min_seats must be at most 2147483647, got a huge number"),
        ({"max_seats": 2**31}, "max_seats must be at most 2147483647"),
        ({"max_open_referrals": 2**40}, "max_open_referrals must be at most 2147483647"),
        ({"max_seats": "many"}, "max_seats must be a whole number >= 0 or null"),
        ({"paused_until": "2027-02-30"}, "paused_until must be a date YYYY-MM-DD or null"),
        ({"paused_until": "15.01.2027"}, "paused_until must be a date YYYY-MM-DD or null"),
        ({"paused_until": 20270115}, "paused_until must be a date YYYY-MM-DD or null"),
        ({"max_open_referrals": 0}, "max_open_referrals must be a positive whole number or null"),
        ({"worklaods": ["teams"]}, "unknown field 'worklaods' (did you mean 'workloads'?)"),
        ({"zzz": 1}, "unknown field 'zzz' (allowed: mpn_id, name,"),
    ],
)
def test_parse_partner_rejects(patch: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_partner(patched(PARTNER, patch))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("obj", "where", "message"),
    [
        ([], "", "partner: must be a JSON object, got list"),
        (None, "#3", "partner #3: must be a JSON object, got null"),
        ({1: "x"}, "", "partner: field names must be strings"),
        (patched(PARTNER, {"name": DROP}), "#2", "partner 4711001 (#2): name is required"),
        (patched(PARTNER, {"mpn_id": DROP}), "#2", "partner #2: mpn_id is required"),
    ],
)
def test_partner_labels(obj: object, where: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        parse_partner(obj, where)


def test_partner_round_trip() -> None:
    p = parse_partner(patched(PARTNER, {"paused_until": "2027-03-31", "max_open_referrals": 4}))
    data = partner_to_json(p)
    assert list(data) == list(PARTNER_FIELDS)
    assert data["paused_until"] == "2027-03-31"
    assert parse_partner(json.loads(json.dumps(data))) == p


# ---------------------------------------------------------------------------------------
# Referrals
# ---------------------------------------------------------------------------------------


def test_parse_referral_contract_example() -> None:
    r = parse_referral(REFERRAL)
    assert r == Referral(
        referral_id="FT-2026-000123",
        type="benefit",
        customer=Customer(
            name="Fabrikam Ltd",
            country="DE",
            language="de",
            segment="commercial",
            seats=2400,
            tenant_id="3f2a9c1e-5b7d-4e8a-9c0f-1a2b3c4d5e61",
            contact_email="it@fabrikam.example",
        ),
        workloads=["teams", "sharepoint"],
        active_usage={"teams": 0.18, "sharepoint": 0.05},
        notes="Wants Teams Phone and a SharePoint migration before Q2.\nSecond line.",
        requested_by=Requester(name="Ann Example", email="ann@microsoft.example", microsoft=True),
        account_team=["ae@microsoft.example"],
        cpor_partner="4711001",
    )


def test_minimal_referral_gets_defaults_and_generated_id() -> None:
    minimal = {
        "type": "Standard",
        "customer": {"name": "Tiny Co", "country": "fr", "language": "FR", "seats": 1},
        "workloads": ["teams"],
    }
    r = parse_referral(minimal, new_id=lambda: "GEN-1")
    assert r.referral_id == "GEN-1"
    assert r.type == "standard"
    assert r.customer == Customer(
        name="Tiny Co", country="FR", language="fr", segment="commercial", seats=1
    )
    assert r.active_usage == {} and r.account_team == [] and r.cpor_partner is None
    assert r.requested_by == Requester()
    assert re.fullmatch(r"FT-\d{4}-[0-9A-F]{8}", parse_referral(minimal).referral_id)


def test_new_referral_id_shape() -> None:
    ids = {new_referral_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"FT-\d{4}-[0-9A-F]{8}", i) for i in ids)


@pytest.mark.parametrize(
    ("patch", "field", "expected"),
    [
        ({"cpor_partner": 4711001}, "cpor_partner", "4711001"),
        ({"cpor_partner": None}, "cpor_partner", None),
        (
            {"active_usage": {"Teams": 1, "sharepoint": 0}},
            "active_usage",
            {"teams": 1.0, "sharepoint": 0.0},
        ),
        ({"active_usage": None}, "active_usage", {}),
        ({"requested_by": None}, "requested_by", Requester()),
        ({"requested_by": {"name": "Sam"}}, "requested_by", Requester(name="Sam")),
        ({"notes": None}, "notes", ""),
        ({"referral_id": None}, "referral_id", "GEN-7"),
        ({"referral_id": "a.b_c-D9"}, "referral_id", "a.b_c-D9"),
        ({"customer.segment": DROP}, "customer.segment", "commercial"),
        ({"customer.segment": None}, "customer.segment", "commercial"),
        ({"customer.segment": " Nonprofit "}, "customer.segment", "nonprofit"),
        ({"customer.tenant_id": DROP}, "customer.tenant_id", ""),
        ({"customer.contact_email": ""}, "customer.contact_email", ""),
    ],
)
def test_parse_referral_accepts(patch: dict[str, Any], field: str, expected: object) -> None:
    r = parse_referral(patched(REFERRAL, patch), new_id=lambda: "GEN-7")
    assert attrgetter(field)(r) == expected


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (
            {"type": "premium"},
            "unknown referral type 'premium' in type (allowed: benefit, standard)",
        ),
        ({"type": DROP}, "type is required"),
        ({"customer": DROP}, "customer is required"),
        ({"customer": "Fabrikam"}, "customer must be a JSON object, got string"),
        ({"customer.seats": 0}, "customer.seats must be a positive whole number, got 0"),
        ({"customer.seats": "2400"}, "customer.seats must be a positive whole number, got '2400'"),
        ({"customer.seats": 2400.0}, "customer.seats must be a positive whole number"),
        ({"customer.seats": 3_000_000_000}, "customer.seats must be at most 2147483647"),
        ({"customer.seats": DROP}, "customer.seats is required"),
        ({"customer.name": DROP}, "customer.name is required"),
        ({"customer.country": DROP}, "customer.country is required"),
        ({"customer.country": "Germany"}, "unknown country 'Germany' in customer.country"),
        ({"customer.language": DROP}, "customer.language is required"),
        ({"customer.language": "german"}, "unknown language 'german' in customer.language"),
        ({"customer.segment": "enterprise"}, "unknown segment 'enterprise' in customer.segment"),
        ({"customer.contact_email": "it@"}, "customer.contact_email must be an email address"),
        ({"customer.seat": 5}, "unknown field 'customer.seat' (did you mean 'seats'?)"),
        ({"workloads": []}, "workloads must not be empty"),
        ({"workloads": DROP}, "workloads is required"),
        ({"workloads": ["teams", "Teams"]}, "workloads lists 'teams' twice"),
        ({"workloads": ["teams", "lync"]}, "unknown workload 'lync' in workloads"),
        (
            {"active_usage": {"intune": 0.1}},
            "active_usage names 'intune', which is not a requested",
        ),
        ({"active_usage": {"teams": 1.5}}, "active_usage.teams must be a number from 0 to 1"),
        ({"active_usage": {"teams": -0.1}}, "active_usage.teams must be a number from 0 to 1"),
        ({"active_usage": {"teams": "18%"}}, "active_usage.teams must be a number from 0 to 1"),
        ({"active_usage": {"teams": True}}, "active_usage.teams must be a number from 0 to 1"),
        (
            {"active_usage": {"teams": float("nan")}},
            "active_usage.teams must be a number from 0 to 1",
        ),
        ({"active_usage": {"teams": 0.1, " TEAMS": 0.2}}, "active_usage lists 'teams' twice"),
        ({"active_usage": [0.1]}, "active_usage must be a JSON object, got list"),
        ({"requested_by": "ann"}, "requested_by must be a JSON object, got string"),
        ({"requested_by.email": "ann"}, "requested_by.email must be an email address"),
        ({"requested_by.microsoft": "true"}, "requested_by.microsoft must be true or false"),
        ({"requested_by.team": "x"}, "unknown field 'requested_by.team'"),
        ({"account_team": "ae@microsoft.example"}, "account_team must be a list, got string"),
        ({"account_team": ["ae@microsoft"]}, "account_team must be an email address"),
        ({"account_team": [7]}, "account_team must hold email strings, got number"),
        (
            {"account_team": ["a@m.example", "A@m.example"]},
            "account_team lists 'A@m.example' twice",
        ),
        ({"cpor_partner": "47 11"}, "cpor_partner must be letters and digits"),
        ({"referral_id": "FT 2026"}, "referral: referral_id must be 1-64 letters"),
        ({"referral_id": "-leading"}, "referral: referral_id must be 1-64 letters"),
        ({"referral_id": "x" * 65}, "referral: referral_id must be 1-64 letters"),
        ({"referral_id": 123}, "referral: referral_id must be 1-64 letters"),
        ({"notes": 5}, "notes must be a string, got number"),
        ({"notes": "x" * 10_001}, "notes is longer than 10000 characters"),
        ({"note": "typo"}, "unknown field 'note' (did you mean 'notes'?)"),
    ],
)
def test_parse_referral_rejects(patch: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_referral(patched(REFERRAL, patch))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_referral_labels() -> None:
    obj = patched(REFERRAL, {"customer.seats": -3})
    with pytest.raises(
        ValidationError, match=re.escape("referral FT-2026-000123 (#2): customer.seats")
    ):
        parse_referral(obj, "#2")
    obj = patched(REFERRAL, {"referral_id": DROP, "customer.seats": -3})
    with pytest.raises(
        ValidationError,
        match=re.escape("referral #2: customer.seats must be a positive whole number"),
    ):
        parse_referral(obj, "#2")


def test_bad_generated_id_is_rejected() -> None:
    with pytest.raises(ValidationError, match="generated referral_id"):
        parse_referral(patched(REFERRAL, {"referral_id": DROP}), new_id=lambda: "no spaces allowed")


def test_referral_round_trip() -> None:
    r = parse_referral(REFERRAL)
    data = referral_to_json(r)
    assert list(data) == list(REFERRAL_FIELDS)
    assert list(data["customer"]) == list(CUSTOMER_FIELDS)
    assert parse_referral(json.loads(json.dumps(data))) == r
    bare = parse_referral(
        patched(REFERRAL, {"cpor_partner": DROP, "requested_by": DROP, "active_usage": DROP})
    )
    assert parse_referral(json.loads(json.dumps(referral_to_json(bare)))) == bare


# ---------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------


def test_load_single_object_and_list() -> None:
    assert [p.mpn_id for p in load_partners(json.dumps(PARTNER))] == ["4711001"]
    second = patched(PARTNER, {"mpn_id": "4711002"})
    assert [p.mpn_id for p in load_partners(json.dumps([PARTNER, second]))] == [
        "4711001",
        "4711002",
    ]
    assert len(load_referrals(json.dumps(REFERRAL))) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"mpn_id": "1",\n  "name": }', "invalid JSON at line 2, column 11: Expecting value"),
        ("", "invalid JSON at line 1, column 1"),
        ("[]", "the file holds no partners"),
        ("42", "expected a partner object or a list of them, got number"),
        ('{"mpn_id": "1", "mpn_id": "2"}', "invalid JSON: key 'mpn_id' appears twice"),
        ('{"min_seats": NaN}', "invalid JSON: NaN is not a number"),
        ("[" * 100_000 + "]" * 100_000, "invalid JSON: nested too deeply"),
        ("1" * 5000, "invalid JSON: Exceeds the limit"),
    ],
)
def test_load_partners_bad_json(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        load_partners(text)


def test_load_partners_duplicate_and_all_or_nothing() -> None:
    dup = json.dumps(
        [PARTNER, patched(PARTNER, {"mpn_id": "4711002"}), patched(PARTNER, {"mpn_id": 4711001})]
    )
    with pytest.raises(
        ValidationError,
        match=re.escape("partner 4711001 (#3): duplicate mpn_id (already used by #1)"),
    ):
        load_partners(dup)
    late_error = json.dumps([PARTNER, patched(PARTNER, {"mpn_id": "9", "min_seats": -1})])
    with pytest.raises(ValidationError, match=re.escape("partner 9 (#2): min_seats")):
        load_partners(late_error)


def test_load_referrals_duplicates() -> None:
    same = json.dumps([REFERRAL, REFERRAL])
    assert len(load_referrals(same)) == 2  # identical: idempotent create
    other = patched(REFERRAL, {"customer.seats": 10})
    with pytest.raises(ValidationError, match="referral_id already used by a different referral"):
        load_referrals(json.dumps([REFERRAL, other]))
    anonymous = patched(REFERRAL, {"referral_id": DROP})
    ids = iter(["A-1", "A-2"])
    assert [
        r.referral_id for r in load_referrals(json.dumps([anonymous, anonymous]), lambda: next(ids))
    ] == [
        "A-1",
        "A-2",
    ]


def test_sample_data_files_load() -> None:
    partners = load_partners((DATA / "partners.json").read_text(encoding="utf-8"))
    referrals = load_referrals((DATA / "referrals.json").read_text(encoding="utf-8"))
    assert len(partners) >= 25
    assert len(referrals) == 6
    by_id = {p.mpn_id: p for p in partners}
    assert all(r.cpor_partner is None or r.cpor_partner in by_id for r in referrals)
    for p in partners:
        assert partner_to_json(p)["mpn_id"] == p.mpn_id
        assert p.referral_contact.endswith(".example")


def _eligible(p: PartnerProfile, r: Referral, workloads: list[str], today: date) -> bool:
    """The program's eligibility rules, restated independently to check the sample data."""
    c = r.customer
    opted_in = (
        (p.fasttrack_ready and p.benefit_referrals) if r.type == "benefit" else p.referral_ready
    )
    return (
        opted_in
        and not (p.paused_until and p.paused_until >= today)
        and set(workloads) <= set(p.workloads)
        and c.language in p.languages
        and (c.segment == "commercial" or c.segment in p.segments)
        and p.min_seats <= c.seats <= (p.max_seats if p.max_seats is not None else c.seats)
        and c.country in p.countries_served()
    )


def test_sample_referrals_have_eligible_partners() -> None:
    partners = load_partners((DATA / "partners.json").read_text(encoding="utf-8"))
    referrals = load_referrals((DATA / "referrals.json").read_text(encoding="utf-8"))
    today = date(2026, 6, 1)
    splits = 0
    for r in referrals:
        whole = [p.mpn_id for p in partners if _eligible(p, r, r.workloads, today)]
        if r.cpor_partner:
            assert r.cpor_partner in whole, r.referral_id
        if whole:
            continue
        splits += 1
        base = [p for p in partners if _eligible(p, r, [], today)]
        assert any(
            set(r.workloads) <= set(a.workloads) | set(b.workloads) for a in base for b in base
        ), f"{r.referral_id}: not even two partners together cover it"
    assert splits == 1
    assert sum(1 for r in referrals if r.cpor_partner) == 1
    assert {r.type for r in referrals} == {"benefit", "standard"}
    assert any(p.paused_until and p.paused_until.year == 2027 for p in partners)
    assert sum(1 for p in partners if p.max_open_referrals) >= 2


# ---------------------------------------------------------------------------------------
# Robustness: arbitrary JSON-ish input fails only with ValidationError
# ---------------------------------------------------------------------------------------

_KEYS = st.sampled_from(
    [*PARTNER_FIELDS, *REFERRAL_FIELDS, *CUSTOMER_FIELDS, "email", "microsoft", "x", ""]
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**4300, max_value=10**4400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(
        ["teams", "DE", "de", "commercial", "benefit", "a@b.example", "2027-01-01", "UTC"]
    )
)
JSONISH = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(_KEYS | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=20,
)


def _mutations(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(_KEYS, JSONISH, max_size=3).map(lambda extra: {**base, **extra})


def _dumps(value: object) -> str:
    try:
        return json.dumps(value)
    except ValueError:  # an integer too long to print
        return "[1e999999]"


def _only_validation_errors(fn: Any, value: object) -> None:
    try:
        fn(value)
    except ValidationError as exc:
        assert str(exc) and "\n" not in str(exc)


@settings(max_examples=150, deadline=None)
@given(JSONISH | _mutations(PARTNER))
def test_parse_partner_never_crashes(value: object) -> None:
    _only_validation_errors(parse_partner, value)


@settings(max_examples=150, deadline=None)
@given(
    JSONISH
    | _mutations(REFERRAL)
    | _mutations(REFERRAL["customer"]).map(lambda c: {**REFERRAL, "customer": c})
)
def test_parse_referral_never_crashes(value: object) -> None:
    _only_validation_errors(parse_referral, value)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60) | JSONISH.map(_dumps))
def test_load_never_crashes(text: str) -> None:
    _only_validation_errors(load_partners, text)
    _only_validation_errors(load_referrals, text)


def test_whole_number_takes_plain_digits_up_to_the_largest() -> None:
    from domain.validation import LARGEST_WHOLE, whole_number

    assert whole_number("0") == 0 and whole_number("0042") == 42
    assert whole_number(str(LARGEST_WHOLE)) == LARGEST_WHOLE
    assert whole_number("65535", 65535) == 65535
    for bad in ("", " 1", "-1", "1.5", "²", "١٢", str(LARGEST_WHOLE + 1), "9" * 5000):
        assert whole_number(bad) is None, bad
    assert whole_number("65536", 65535) is None and whole_number("000001", 65535) is None
