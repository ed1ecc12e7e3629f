"""The track record, its score and the ranking built on it (pure functions, no Temporal)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from domain import track_record as tr
from domain.claims import Claim
from domain.matching import evaluate, rank_key
from domain.models import (
    Customer,
    MatchRequest,
    PartnerLoad,
    PartnerProfile,
    Referral,
    TrackRecord,
)
from tests.test_cpor_matching import TENANT
from tests.test_cpor_matching import request as claimed_request

AS_OF = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TERMS = tr.RankingTerms(mode="track_record", band=0.05, floor=0.25, prior_weight=8)


def ranking(average: float = 0.6, **kw: object) -> tr.Ranking:
    terms = tr.RankingTerms(**{**TERMS.__dict__, **kw})
    return tr.Ranking(terms, average)


def profile(mpn_id: str) -> PartnerProfile:
    return PartnerProfile(
        mpn_id=mpn_id,
        name=f"Partner {mpn_id}",
        referral_contact=f"r@{mpn_id}.example",
        workloads=["teams"],
        languages=["en"],
        home_country="US",
    )


def request() -> MatchRequest:
    referral = Referral(
        referral_id="FT-RANK",
        type="standard",
        customer=Customer("Customer", "US", "en", "commercial", 500),
        workloads=["teams"],
    )
    return MatchRequest(referral, "FT-RANK", ["teams"], 1, [], AS_OF)


def good(n: int) -> TrackRecord:
    return TrackRecord(offers=n, accepted=n, completed=n)


def bad(n: int) -> TrackRecord:
    return TrackRecord(offers=n, expired=n)


def test_score_is_the_delivered_share_shrunk_toward_the_average() -> None:
    record = TrackRecord(offers=12, accepted=8, completed=6, expired=2, declined_partner=2)
    judged = 6 + 2 + 2
    assert tr.judged(record) == judged
    assert tr.score(record, 0.5, 8) == pytest.approx((6 + 8 * 0.5) / (judged + 8))
    assert tr.score(TrackRecord(), 0.42, 8) == pytest.approx(0.42)  # nothing judged: average
    # few offers sit near the average, many approach the partner's own rate
    assert abs(tr.score(bad(2), 0.6, 8) - 0.6) < abs(tr.score(bad(40), 0.6, 8) - 0.6)


def test_customer_side_declines_and_running_engagements_do_not_count() -> None:
    record = TrackRecord(offers=5, accepted=3, declined_customer=2)
    assert tr.judged(record) == 0 and tr.running(record) == 3
    assert tr.score(record, 0.6, 8) == pytest.approx(0.6)


def test_offer_changes_count_each_end_once() -> None:
    assert tr.offer_changes(None, "pending", "", False) == {"offers": 1}
    assert tr.offer_changes("pending", "expired", "", False) == {"expired": 1}
    assert tr.offer_changes("pending", "declined", "language_not_supported", False) == {
        "declined_partner": 1,
        "declined_language": 1,
    }
    assert tr.offer_changes("pending", "declined", "customer_unresponsive", False) == {
        "declined_customer": 1
    }
    assert tr.offer_changes("pending", "accepted", "", True) == {"accepted": 1}
    assert tr.offer_changes("accepted", "declined", "other", True) == {"declined_after_accept": 1}
    assert tr.offer_changes("accepted", "completed", "", True, vas_sold=True) == {
        "completed": 1,
        "vas_sold": 1,
    }
    # seen in one step (the snapshot skipped the accept): both counted
    assert tr.offer_changes("pending", "completed", "", True) == {"accepted": 1, "completed": 1}
    assert tr.offer_changes("accepted", "accepted", "", True) == {}


def test_engagements_open_past_the_judging_age_count_as_undelivered() -> None:
    as_of = date(2026, 12, 1)
    months = [
        (date(2026, 1, 1), {"offers": 3, "accepted": 3, "completed": 1}),  # 2 long open
        (date(2026, 11, 1), {"offers": 2, "accepted": 2}),  # too young to judge
    ]
    record = tr.summed(months, as_of)
    assert record.overdue == 2 and tr.judged(record) == 3 and tr.running(record) == 2
    assert tr.window_start(as_of, 365) == date(2025, 12, 1)


def test_bands_group_close_scores_and_rotation_decides_inside_a_band() -> None:
    r = ranking(average=0.8)
    busy = (profile("1"), PartnerLoad("1", open_assignments=3, record=good(10)))
    idle = (profile("2"), PartnerLoad("2", open_assignments=0, record=good(9)))
    # both score in the same band: fewest open referrals wins
    assert tr.band_index(tr.score(busy[1].record, 0.8, 8), 0.05) == tr.band_index(
        tr.score(idle[1].record, 0.8, 8), 0.05
    )
    result = evaluate([busy, idle], request(), ranking=r)
    assert result.partner is not None and result.partner.mpn_id == "2"
    assert result.explanation.tie_rule == "same band; fewest open referrals (0 vs 3)"


def test_a_partner_that_accepts_outranks_one_that_lets_offers_expire_despite_more_open() -> None:
    accepts = (profile("1"), PartnerLoad("1", open_assignments=4, record=good(6)))
    expires = (profile("2"), PartnerLoad("2", open_assignments=0, record=bad(6)))
    result = evaluate([expires, accepts], request(), ranking=ranking())
    assert result.partner is not None and result.partner.mpn_id == "1"
    assert result.explanation.tie_rule == "higher score band"
    card = result.explanation.score
    assert card is not None and card.mpn_id == "1" and card.completed == 6
    assert "6 offers, 6 accepted in time, 0 expired" in result.explanation.rank_keys["score"]


def test_a_newcomer_gets_the_first_eligible_referral_then_starts_at_the_average() -> None:
    veteran = (profile("1"), PartnerLoad("1", record=good(30)))
    newcomer = (profile("9"), PartnerLoad("9", open_assignments=2))
    result = evaluate([veteran, newcomer], request(), ranking=ranking())
    assert result.partner is not None and result.partner.mpn_id == "9"
    assert result.explanation.tie_rule == "newcomer first"
    assert result.explanation.score is not None
    assert result.explanation.score.standing == tr.NEWCOMER
    offered = TrackRecord(offers=1)  # after its first offer: ranked at the average
    assert not tr.is_newcomer(offered)
    assert tr.score(offered, 0.6, 8) == pytest.approx(0.6)
    assert rank_key(veteran[0], veteran[1], ranking()) < rank_key(
        newcomer[0], PartnerLoad("9", record=offered), ranking()
    )


def test_a_partner_below_the_floor_stays_eligible_but_comes_last() -> None:
    r = ranking(average=0.6)
    floor_case = bad(12)
    assert tr.below_floor(floor_case, r)
    assert not tr.below_floor(bad(9), r)  # fewer than 10 judged offers: no floor yet
    low = (profile("1"), PartnerLoad("1", record=floor_case))
    mid = (profile("2"), PartnerLoad("2", open_assignments=9, record=TrackRecord(offers=1)))
    result = evaluate([low, mid], request(), ranking=r)
    assert result.partner is not None and result.partner.mpn_id == "2"
    assert result.explanation.tie_rule == "the runner-up is below the floor"
    alone = evaluate([low], request(), ranking=r)
    assert alone.partner is not None and alone.partner.mpn_id == "1"
    assert alone.explanation.score is not None
    assert alone.explanation.score.standing == tr.NEEDS_ATTENTION
    assert alone.explanation.tie_rule == "only eligible partner"


def test_rotation_switch_ignores_the_record() -> None:
    accepts = (profile("1"), PartnerLoad("1", open_assignments=4, record=good(6)))
    expires = (profile("2"), PartnerLoad("2", open_assignments=0, record=bad(6)))
    rotation = tr.Ranking(tr.RankingTerms(mode="rotation"), 0.6)
    result = evaluate([accepts, expires], request(), ranking=rotation)
    assert result.partner is not None and result.partner.mpn_id == "2"
    assert result.explanation.score is None and result.explanation.tie_rule == ""
    assert "score" not in result.explanation.rank_keys


def test_program_average_moves_in_steps_of_a_hundredth() -> None:
    records = [good(3), bad(4), TrackRecord(offers=2, declined_customer=2)]
    assert tr.program_average(records) == round(3 / 7, 2)
    assert tr.program_average([]) == tr.DEFAULT_AVERAGE


def test_advice_names_the_profile_field_to_fix() -> None:
    record = TrackRecord(
        offers=5, expired=1, declined_partner=3, declined_customer_type=2, declined_language=1
    )
    lines = tr.advice(record, ranking())
    assert any("segments" in line for line in lines)
    assert any("languages" in line for line in lines)
    assert lines[0].startswith("1 offer expired")
    assert tr.advice(good(3), ranking())[0].startswith("keep accepting")


def test_floor_crossing_is_seen_between_two_records() -> None:
    r = ranking(average=0.6)
    before = TrackRecord(offers=11, expired=11)
    after = tr.add(before, {"offers": 1, "expired": 1})
    assert tr.crossed_floor(before, after, r)
    assert not tr.crossed_floor(after, after, r)


def test_scorecard_states_band_and_standing() -> None:
    card = tr.scorecard("7", good(10), ranking(average=0.5))
    assert card.standing == tr.RANKED
    assert card.band == tr.band_label(card.score, 0.05)
    assert card.judged == 10 and card.average == 0.5
    assert tr.band_label(0.83, 0.05) == "0.80-0.85"


def test_eligibility_and_the_cpor_claimant_come_before_the_score() -> None:
    """Rule 1 of the ranking: a full partner stays ineligible however good its record, and an
    eligible CPOR claimant gets the referral even below the floor and against a newcomer."""
    r = ranking(average=0.6)
    full = (
        replace(profile("1"), max_open_referrals=2),
        PartnerLoad("1", open_assignments=2, record=good(30)),
    )
    low = (profile("2"), PartnerLoad("2", record=bad(12)))
    fresh = (profile("3"), PartnerLoad("3"))
    claims = [Claim(TENANT.upper(), "2", ("teams",))]
    result = evaluate([full, low, fresh], claimed_request(), claims, ranking=r)
    assert result.partner is not None and result.partner.mpn_id == "2"
    assert result.explanation.cpor == "chosen"
    assert result.explanation.tie_rule == "claiming partner of record"
    assert result.explanation.score is not None
    assert result.explanation.score.standing == tr.NEEDS_ATTENTION
    assert result.explanation.removed["capacity"] == 1
    unclaimed = evaluate([full, low, fresh], claimed_request(), (), ranking=r)
    assert unclaimed.partner is not None and unclaimed.partner.mpn_id == "3"  # the newcomer
    assert unclaimed.explanation.removed["capacity"] == 1


def test_the_account_team_counts_as_first_when_contacted_before_any_kickoff() -> None:
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    later = datetime(2026, 3, 3, 9, tzinfo=UTC)
    assert tr.account_team_first(at, None)
    assert tr.account_team_first(at, later)
    assert tr.account_team_first(at, at)
    assert not tr.account_team_first(later, at)
    assert not tr.account_team_first(None, at)
    assert not tr.account_team_first(None, None)
