"""Unit tests of the pure matching engine: each criterion, ranking, split, escalation (CPOR:
tests/test_cpor_matching.py)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

import pytest

from domain.matching import (
    CRITERIA,
    CRITERION_NAMES,
    MatchContext,
    evaluate,
    partner_contact,
    plan_split,
    rank_key,
    split_pool,
)
from domain.models import Customer, MatchRequest, PartnerLoad, PartnerProfile, Referral

AS_OF = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def profile(mpn_id: str = "1", **kw: Any) -> PartnerProfile:
    base: dict[str, Any] = {
        "name": f"P{mpn_id}",
        "referral_contact": f"r@{mpn_id}.example",
        "referral_ready": True,
        "benefit_referrals": True,
        "fasttrack_ready": True,
        "workloads": ["teams", "exchange"],
        "languages": ["en"],
        "segments": [],
        "min_seats": 0,
        "max_seats": None,
        "home_country": "US",
        "countries": [],
        "timezone": "UTC",
    }
    base.update(kw)
    return PartnerProfile(mpn_id=mpn_id, **base)


def request(
    *,
    type: str = "standard",
    workloads: list[str] | None = None,
    language: str = "en",
    segment: str = "commercial",
    seats: int = 500,
    country: str = "US",
    excluded: list[str] | None = None,
    cpor: str | None = None,
    allow_split: bool = True,
) -> MatchRequest:
    wl = workloads if workloads is not None else ["teams"]
    referral = Referral(
        referral_id="FT-1",
        type=type,
        customer=Customer("C", country, language, segment, seats),
        workloads=wl,
        cpor_partner=cpor,
    )
    return MatchRequest(
        referral=referral,
        scope_id="FT-1",
        workloads=wl,
        attempt=1,
        excluded=excluded or [],
        as_of=AS_OF,
        allow_split=allow_split,
    )


def check(name: str, p: PartnerProfile, req: MatchRequest, load: PartnerLoad | None = None) -> bool:
    fn = dict(CRITERIA)[name]
    ctx = MatchContext.of(req, [(p, load or PartnerLoad(p.mpn_id))])
    return fn(p, ctx)


CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    # criterion, profile overrides, request overrides, expected
    ("type_opt_in", {}, {"type": "standard"}, True),
    ("type_opt_in", {"referral_ready": False}, {"type": "standard"}, False),
    ("type_opt_in", {}, {"type": "benefit"}, True),
    ("type_opt_in", {"fasttrack_ready": False}, {"type": "benefit"}, False),
    ("type_opt_in", {"benefit_referrals": False}, {"type": "benefit"}, False),
    ("type_opt_in", {"referral_ready": False}, {"type": "benefit"}, True),
    ("not_paused", {"paused_until": None}, {}, True),
    ("not_paused", {"paused_until": date(2026, 3, 1)}, {}, True),
    ("not_paused", {"paused_until": date(2026, 3, 2)}, {}, False),  # last paused day
    ("not_paused", {"paused_until": date(2026, 4, 1)}, {}, False),
    ("workloads", {}, {"workloads": ["teams"]}, True),
    ("workloads", {}, {"workloads": ["teams", "exchange"]}, True),
    ("workloads", {}, {"workloads": ["teams", "intune"]}, False),
    ("workloads", {}, {"workloads": []}, True),
    ("language", {"languages": ["en", "de"]}, {"language": "de"}, True),
    ("language", {"languages": ["en"]}, {"language": "fr"}, False),
    ("segment", {"segments": []}, {"segment": "commercial"}, True),
    ("segment", {"segments": []}, {"segment": "education"}, False),
    ("segment", {"segments": ["education"]}, {"segment": "education"}, True),
    ("segment", {"segments": ["education"]}, {"segment": "government"}, False),
    ("seats", {"min_seats": 150, "max_seats": 20000}, {"seats": 150}, True),
    ("seats", {"min_seats": 150, "max_seats": 20000}, {"seats": 20000}, True),
    ("seats", {"min_seats": 150, "max_seats": 20000}, {"seats": 149}, False),
    ("seats", {"min_seats": 150, "max_seats": 20000}, {"seats": 20001}, False),
    ("seats", {"min_seats": 150, "max_seats": None}, {"seats": 10**7}, True),
    ("country", {"home_country": "US"}, {"country": "US"}, True),
    ("country", {"home_country": "US", "countries": ["CA"]}, {"country": "CA"}, True),
    ("country", {"home_country": "US", "countries": ["CA"]}, {"country": "DE"}, False),
    ("not_excluded", {}, {"excluded": []}, True),
    ("not_excluded", {}, {"excluded": ["1"]}, False),
    ("not_excluded", {}, {"excluded": ["2"]}, True),
]


@pytest.mark.parametrize(("name", "prof", "req", "expected"), CASES)
def test_criterion(name: str, prof: dict[str, Any], req: dict[str, Any], expected: bool) -> None:
    assert check(name, profile(**prof), request(**req)) is expected


@pytest.mark.parametrize(
    ("cap", "open_", "expected"), [(None, 99, True), (3, 2, True), (3, 3, False), (0, 0, False)]
)
def test_capacity(cap: int | None, open_: int, expected: bool) -> None:
    p = profile(max_open_referrals=cap)
    assert check("capacity", p, request(), PartnerLoad("1", open_assignments=open_)) is expected


def test_criteria_order_is_fixed() -> None:
    assert CRITERION_NAMES == (
        "type_opt_in",
        "not_paused",
        "workloads",
        "language",
        "segment",
        "seats",
        "country",
        "not_excluded",
        "capacity",
    )


def test_removed_counts_first_failed_criterion_in_order() -> None:
    partners = [
        (profile("1", referral_ready=False, languages=["de"]), PartnerLoad("1")),  # opt-in
        (profile("2", paused_until=date(2026, 3, 5)), PartnerLoad("2")),
        (profile("3", languages=["de"]), PartnerLoad("3")),
        (profile("4", max_open_referrals=1), PartnerLoad("4", open_assignments=1)),
        (profile("5"), PartnerLoad("5")),
    ]
    result = evaluate(partners, request())
    e = result.explanation
    assert e.candidates == 5
    assert e.eligible == 1
    assert e.removed == {
        **dict.fromkeys(CRITERION_NAMES, 0),
        "type_opt_in": 1,
        "not_paused": 1,
        "language": 1,
        "capacity": 1,
    }
    assert result.partner is not None and result.partner.mpn_id == "5"


def test_ranking_fewest_open_then_recency_then_key() -> None:
    t1 = datetime(2026, 2, 1, tzinfo=UTC)
    t2 = datetime(2026, 2, 2, tzinfo=UTC)
    partners = [
        (profile("10", max_open_referrals=4), PartnerLoad("10", open_assignments=2)),
        (profile("11", max_open_referrals=10), PartnerLoad("11", open_assignments=2)),
        (profile("12", max_open_referrals=5), PartnerLoad("12", 1, last_assigned_at=t2)),
        (profile("13", max_open_referrals=5), PartnerLoad("13", 1, last_assigned_at=t1)),
    ]
    result = evaluate(partners, request())
    assert result.partner is not None
    # fewer open wins (1 < 2), then least recently assigned (t1).
    assert result.partner.mpn_id == "13"
    assert result.explanation.rank_keys == {
        "load": "1/5",
        "last_assigned": t1.isoformat(),
        "key": "13",
    }


def test_ranking_never_assigned_first_and_stable_key() -> None:
    partners = [
        (profile("9"), PartnerLoad("9", last_assigned_at=AS_OF)),
        (profile("8"), PartnerLoad("8")),
        (profile("7"), PartnerLoad("7")),
    ]
    result = evaluate(partners, request())
    assert result.partner is not None and result.partner.mpn_id == "7"
    assert result.explanation.rank_keys == {
        "load": "0/unlimited",
        "last_assigned": "never",
        "key": "7",
    }


def test_split_minimum_parts_disjoint_in_request_order() -> None:
    partners = [
        (profile("1", workloads=["teams", "exchange"]), PartnerLoad("1")),
        (profile("2", workloads=["intune"]), PartnerLoad("2")),
        (profile("3", workloads=["exchange", "intune", "purview"]), PartnerLoad("3")),
        (profile("4", workloads=["purview"]), PartnerLoad("4")),
    ]
    req = request(workloads=["purview", "teams", "exchange", "intune"])
    result = evaluate(partners, req)
    assert result.partner is None
    # {1, 3} is the only two-partner cover; 1 ranks first, so it keeps exchange.
    assert result.split == [["purview", "intune"], ["teams", "exchange"]]
    assert "split" in result.explanation.note


def test_split_not_allowed_escalates() -> None:
    partners = [
        (profile("1", workloads=["teams"]), PartnerLoad("1")),
        (profile("2", workloads=["intune"]), PartnerLoad("2")),
    ]
    result = evaluate(partners, request(workloads=["teams", "intune"], allow_split=False))
    assert result.partner is None and result.split == []
    assert result.explanation.note


def test_uncoverable_workloads_escalate_with_note() -> None:
    partners = [
        (profile("1", workloads=["teams"]), PartnerLoad("1")),
        (profile("2", workloads=["intune"], languages=["de"]), PartnerLoad("2")),
    ]
    result = evaluate(partners, request(workloads=["teams", "intune", "purview"]))
    assert result.partner is None and result.split == []
    assert result.explanation.note == "no eligible partner covers: intune, purview"


def test_empty_directory_escalates() -> None:
    result = evaluate([], request())
    assert result.partner is None and result.split == []
    assert result.explanation.candidates == 0
    assert result.explanation.note == "no eligible partner covers: teams"


def test_split_pool_keeps_best_per_endorsement_set() -> None:
    partners = [
        (profile("1", workloads=["teams"]), PartnerLoad("1", open_assignments=3)),
        (profile("2", workloads=["teams", "windows"]), PartnerLoad("2")),
        (profile("3", workloads=["intune"]), PartnerLoad("3")),
    ]
    pool = split_pool(partners, request(workloads=["teams", "intune"]))
    assert {m: c[0].mpn_id for m, c in pool.items()} == {1: "2", 2: "3"}
    assert plan_split(pool, ["teams", "intune"]) == [["teams"], ["intune"]]


def test_partner_contact() -> None:
    p = profile("1", timezone="Europe/Berlin", home_country="DE")
    contact = partner_contact(p, PartnerLoad("1", capacity_declines=1))
    assert dataclasses.asdict(contact) == {
        "mpn_id": "1",
        "name": "P1",
        "referral_contact": "r@1.example",
        "timezone": "Europe/Berlin",
        "country": "DE",
        "capacity_declines_used": 1,
        "locale": "de",  # no locale in the profile: its home country's language
    }


def test_rank_key_naive_datetime_is_utc() -> None:
    naive = datetime(2026, 1, 1, 12, 0)
    aware = naive.replace(tzinfo=UTC)
    p = profile("1")
    assert rank_key(p, PartnerLoad("1", last_assigned_at=naive)) == rank_key(
        p, PartnerLoad("1", last_assigned_at=aware)
    )
