"""The directory bitset index against its oracle, `domain.matching`: on random directories and
referrals it counts the same removals, selects the same eligible partners in the same rank
order and the same split pool, whether built at once or brought up to date change by change,
under rotation and under the track-record ranking (same program average, same keys)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.matching import partner_rows
from db.candidates.index import DirectoryIndex
from db.candidates.rows import INDEX_COLUMNS
from domain.matching import (
    Candidate,
    MatchContext,
    explain_removals,
    ranked,
    split_pool,
)
from domain.models import (
    Customer,
    MatchRequest,
    PartnerLoad,
    PartnerProfile,
    Referral,
    TrackRecord,
)
from domain.track_record import Ranking, RankingTerms, program_average

TRACK_RECORD = RankingTerms(mode="track_record", band=0.1, floor=0.3, prior_weight=4)

AS_OF = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WORKLOADS = ("teams", "exchange", "sharepoint", "onedrive")
LANGUAGES = ("en", "de", "fr")
COUNTRIES = ("US", "DE", "GB", "FR")
SPECIAL_SEGMENTS = ("education", "government", "nonprofit")
SEATS = (0, 50, 150, 500, 2400, 20000)


def subset(values: tuple[str, ...], min_size: int = 0) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), min_size=min_size, unique=True).map(sorted)


@st.composite
def partners(draw: st.DrawFn, mpn_id: str) -> Candidate:
    low = draw(st.sampled_from(SEATS))
    high = draw(st.one_of(st.none(), st.sampled_from([s for s in SEATS if s >= low])))
    home = draw(st.sampled_from(COUNTRIES))
    cap = draw(st.one_of(st.none(), st.integers(1, 3)))
    profile = PartnerProfile(
        mpn_id=mpn_id,
        name=f"Partner {mpn_id}",
        referral_contact=f"referrals@{mpn_id}.example",
        referral_ready=draw(st.booleans()),
        benefit_referrals=draw(st.booleans()),
        fasttrack_ready=draw(st.booleans()),
        workloads=draw(subset(WORKLOADS)),
        languages=draw(subset(LANGUAGES)),
        segments=draw(subset(SPECIAL_SEGMENTS)),
        min_seats=low,
        max_seats=high,
        home_country=home,
        countries=[c for c in draw(subset(COUNTRIES)) if c != home],
        timezone=draw(
            st.sampled_from(("UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Tokyo"))
        ),
        paused_until=draw(st.one_of(st.none(), st.integers(-2, 2).map(_day))),
        max_open_referrals=cap,
    )
    load = PartnerLoad(
        mpn_id=mpn_id,
        open_assignments=draw(st.integers(0, (cap or 2) + 1)),
        last_assigned_at=draw(st.one_of(st.none(), st.integers(1, 3).map(_hours_ago))),
        record=draw(records()),
    )
    return profile, load


@st.composite
def records(draw: st.DrawFn) -> TrackRecord:
    """Small records: newcomers, partners near the average, some below the floor."""
    if draw(st.booleans()):
        return TrackRecord()
    completed, expired, declined = (draw(st.integers(0, 8)) for _ in range(3))
    return TrackRecord(
        offers=completed + expired + declined + draw(st.integers(0, 2)),
        accepted=completed,
        expired=expired,
        declined_partner=declined,
        completed=completed,
    )


def _day(offset: int) -> date:
    return AS_OF.date() + timedelta(days=offset)


def _hours_ago(hours: int) -> datetime:
    return AS_OF - timedelta(hours=hours)  # few values: rank ties on recency


@st.composite
def directories(draw: st.DrawFn, max_size: int = 30) -> list[Candidate]:
    size = draw(st.integers(0, max_size))
    return [draw(partners(f"{4700 + i}")) for i in range(size)]


@st.composite
def requests(draw: st.DrawFn, ids: list[str]) -> MatchRequest:
    wanted = draw(st.lists(st.sampled_from(WORKLOADS), min_size=1, max_size=4, unique=True))
    referral = Referral(
        referral_id="FT-INDEX",
        type=draw(st.sampled_from(("benefit", "standard"))),
        customer=Customer(
            name="Customer",
            country=draw(st.sampled_from(COUNTRIES)),
            language=draw(st.sampled_from(LANGUAGES)),
            segment=draw(st.sampled_from(("commercial", *SPECIAL_SEGMENTS))),
            seats=draw(st.sampled_from((1, *SEATS[1:], 30000))),
        ),
        workloads=wanted,
    )
    excluded = draw(st.lists(st.sampled_from(ids), unique=True)) if ids else []
    return MatchRequest(
        referral=referral,
        scope_id=referral.referral_id,
        workloads=wanted,
        attempt=1,
        excluded=excluded,
        as_of=AS_OF + timedelta(hours=draw(st.integers(-12, 12))),
    )


def stored(directory: list[Candidate], tick: int) -> tuple[list[Any], dict[str, Any]]:
    """The directory as the index reads it: partner rows with the index columns (all changed
    at `tick`) and the side lists of the side tables."""
    rows = partner_rows(directory)
    index_rows = [
        SimpleNamespace(
            **{c.name: row[c.name] for c in INDEX_COLUMNS if c.name in row},
            change_tick=tick,
            profile_tick=tick,
        )
        for row in rows["p"]
    ]
    sides: dict[str, dict[str, list[str]]] = {}
    for kind, column in (("w", "workload"), ("l", "language"), ("c", "country"), ("s", "segment")):
        for side in rows[kind]:
            sides.setdefault(side["mpn_id"], {}).setdefault(kind, []).append(side[column])
    return index_rows, sides


def assert_matches_oracle(
    index: DirectoryIndex, directory: list[Candidate], request: MatchRequest
) -> None:
    removed, eligible = explain_removals(directory, MatchContext.of(request, directory))
    counts, eligible_bits = index.explain(request)
    assert counts.candidates == len(directory)
    assert counts.removed == removed
    assert counts.eligible == len(eligible)
    assert index.ranked(eligible_bits) == [p.mpn_id for p, _ in ranked(eligible)]
    assert index.ranked(eligible_bits, 1) == [p.mpn_id for p, _ in ranked(eligible)][:1]
    pool = ranked(split_pool(directory, request).values())
    assert index.split_pool(request) == [p.mpn_id for p, _ in pool]

    by_score = index.ranking(TRACK_RECORD)
    assert by_score == Ranking(TRACK_RECORD, program_average(load.record for _, load in directory))
    best_first = [p.mpn_id for p, _ in ranked(eligible, by_score)]
    assert index.ranked(eligible_bits, None, by_score) == best_first
    assert index.ranked(eligible_bits, 2, by_score) == best_first[:2]
    pool = ranked(split_pool(directory, request, by_score).values(), by_score)
    assert index.split_pool(request, by_score) == [p.mpn_id for p, _ in pool]
    assert index.ranked(eligible_bits) == [p.mpn_id for p, _ in ranked(eligible)]  # back


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_built_index_selects_what_the_pure_matcher_selects(data: st.DataObject) -> None:
    directory = data.draw(directories())
    rows, sides = stored(directory, tick=1)
    index = DirectoryIndex.build(rows, sides)
    ids = [p.mpn_id for p, _ in directory]
    for _ in range(3):
        assert_matches_oracle(index, directory, data.draw(requests(ids)))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_index_kept_up_to_date_by_changes_selects_what_the_pure_matcher_selects(
    data: st.DataObject,
) -> None:
    """Built from one directory, then given the changed rows of a second one (profiles,
    loads, new partners): it agrees with the oracle on the second."""
    before = data.draw(directories(max_size=20))
    rows, sides = stored(before, tick=1)
    index = DirectoryIndex.build(rows, sides)
    # ranked by score on part of the directory first: the others' keys are left stale
    part = data.draw(st.integers(0, index.all))
    index.ranked(part, None, index.ranking(TRACK_RECORD))
    after = list(before)
    for i in data.draw(st.lists(st.integers(0, 25), unique=True, max_size=10)):
        changed = data.draw(partners(f"{4700 + i}"))
        if i < len(before):
            after[i] = changed
        else:
            after.append(changed)
    new_rows, new_sides = stored(after, tick=2)
    for k, row in enumerate(new_rows):
        old = before[k] if k < len(before) else None
        if old == after[k]:
            continue
        profile_changed = old is None or old[0] != after[k][0]
        index.apply(row, new_sides.get(row.mpn_id, {}) if profile_changed else None)
    ids = [p.mpn_id for p, _ in after]
    for _ in range(3):
        assert_matches_oracle(index, after, data.draw(requests(ids)))
