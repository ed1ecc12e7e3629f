"""Property tests of the pure matching engine on random small directories."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.matching import TRACK_RECORD, synthetic_partner, synthetic_request
from domain.matching import (
    CRITERIA,
    Candidate,
    MatchContext,
    evaluate,
    first_failed,
    rank_key,
    requested_workloads,
    workload_mask,
)
from domain.models import MatchRequest
from domain.track_record import Ranking, is_newcomer, program_average


def scenario(seed: int, size: int) -> tuple[list[Candidate], MatchRequest]:
    rng = random.Random(seed)
    partners = [synthetic_partner(rng, i, small=True) for i in range(size)]
    ids = [p.mpn_id for p, _ in partners]
    return partners, synthetic_request(rng, ids, small=True)


SCENARIOS = st.builds(scenario, st.integers(0, 2**32), st.integers(0, 40))


def brute_force_min_cover(partners: list[Candidate], request: MatchRequest) -> int | None:
    ctx = MatchContext.of(request, partners)
    order = requested_workloads(request)
    full = (1 << len(order)) - 1
    masks = sorted(
        {
            workload_mask(p, order)
            for p, _ in partners
            if first_failed(p, ctx, skip="workloads") is None
        }
        - {0}
    )
    for k in range(1, len(order) + 1):
        for combo in itertools.combinations(masks, k):
            union = 0
            for m in combo:
                union |= m
            if union == full:
                return k
    return None


@settings(max_examples=300, deadline=None)
@given(SCENARIOS)
def test_chosen_partner_satisfies_every_criterion(case: tuple[list[Candidate], MatchRequest]):
    partners, request = case
    result = evaluate(partners, request)
    if result.partner is None:
        return
    ctx = MatchContext.of(request, partners)
    chosen = next(p for p, _ in partners if p.mpn_id == result.partner.mpn_id)
    for name, check in CRITERIA:
        assert check(chosen, ctx), name
    assert chosen.mpn_id not in request.excluded
    if result.explanation.cpor != "chosen":  # otherwise: the best ranked eligible partner
        eligible = [c for c in partners if first_failed(c[0], ctx) is None]
        assert chosen.mpn_id == min(eligible, key=lambda c: rank_key(*c))[0].mpn_id


@settings(max_examples=300, deadline=None)
@given(SCENARIOS)
def test_split_is_exact_cover_with_minimum_parts(case: tuple[list[Candidate], MatchRequest]):
    partners, request = case
    request.allow_split = True
    result = evaluate(partners, request)
    minimum = brute_force_min_cover(partners, request)
    order = requested_workloads(request)
    if result.partner is not None:
        assert result.split == []
        return
    if result.split:
        flat = [w for part in result.split for w in part]
        assert sorted(flat) == sorted(order)  # every workload exactly once
        assert len(result.split) == minimum
        assert len(result.split) >= 2
        for part in result.split:  # request order inside each part, parts ordered
            assert part == [w for w in order if w in part]
        firsts = [order.index(part[0]) for part in result.split]
        assert firsts == sorted(firsts)
    else:
        assert minimum is None or minimum == 1 or len(order) <= 1
        assert result.explanation.note


@settings(max_examples=200, deadline=None)
@given(SCENARIOS, st.data())
def test_excluded_partner_never_chosen(case: tuple[list[Candidate], MatchRequest], data):
    partners, request = case
    if not partners:
        return
    first = evaluate(partners, request)
    if first.partner is None:
        return
    request.excluded = [*request.excluded, first.partner.mpn_id]
    request.referral.cpor_partner = data.draw(
        st.sampled_from([None, first.partner.mpn_id]), label="cpor"
    )
    again = evaluate(partners, request)
    assert again.partner is None or again.partner.mpn_id != first.partner.mpn_id


@settings(max_examples=200, deadline=None)
@given(SCENARIOS, st.randoms(use_true_random=False))
def test_deterministic_and_order_independent(
    case: tuple[list[Candidate], MatchRequest], rnd: random.Random
):
    partners, request = case
    first = evaluate(partners, request)
    assert evaluate(partners, request) == first
    shuffled = list(partners)
    rnd.shuffle(shuffled)
    assert evaluate(shuffled, request) == first


@settings(max_examples=200, deadline=None)
@given(SCENARIOS)
def test_track_record_ranking_chooses_the_best_key_and_newcomers_first(
    case: tuple[list[Candidate], MatchRequest],
) -> None:
    partners, request = case
    ranking = Ranking(TRACK_RECORD, program_average(load.record for _, load in partners))
    result = evaluate(partners, request, ranking=ranking)
    if result.partner is None or result.explanation.cpor == "chosen":
        return
    ctx = MatchContext.of(request, partners)
    eligible = [c for c in partners if first_failed(c[0], ctx) is None]
    best = min(eligible, key=lambda c: rank_key(c[0], c[1], ranking))
    assert result.partner.mpn_id == best[0].mpn_id
    newcomers = [c for c in eligible if is_newcomer(c[1].record)]
    if newcomers:  # a newcomer eligible: one of them gets it
        assert result.partner.mpn_id in {p.mpn_id for p, _ in newcomers}
    assert result.explanation.score is not None and result.explanation.tie_rule
