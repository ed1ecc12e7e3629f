""" "Why this referral came to you" on the partner's referral page (`portal.why`): under the
track-record ranking it names the score the match read, what it is made of, its band and the
rule that put the partner ahead of the next one; under rotation, the open count and the last
assignment. Every line comes from the catalogs (pseudo-locale) and reads in German."""

from __future__ import annotations

import pytest

from domain import track_record as tr
from domain.matching import Candidate, evaluate
from domain.models import MatchExplanation, PartnerLoad, TrackRecord
from mail import i18n
from portal.why import why_in_words
from tests.i18n_support import untranslated
from tests.test_track_record import bad, good, profile, ranking, request


def explained(candidates: list[Candidate], by: tr.Ranking) -> tuple[str, MatchExplanation]:
    result = evaluate(candidates, request(), ranking=by)
    assert result.partner is not None
    return result.partner.mpn_id, result.explanation


def higher_band() -> MatchExplanation:
    accepts = (profile("1"), PartnerLoad("1", open_assignments=4, record=good(6)))
    expires = (profile("2"), PartnerLoad("2", open_assignments=0, record=bad(6)))
    winner, why = explained([expires, accepts], ranking())
    assert winner == "1" and why.tie_rule == "higher score band"
    return why


def same_band() -> MatchExplanation:
    busy = (profile("1"), PartnerLoad("1", open_assignments=3, record=good(10)))
    idle = (profile("2"), PartnerLoad("2", open_assignments=0, record=good(9)))
    winner, why = explained([busy, idle], ranking(average=0.8))
    assert winner == "2" and why.tie_rule.startswith("same band; fewest open")
    return why


def newcomer() -> MatchExplanation:
    veteran = (profile("1"), PartnerLoad("1", record=good(30)))
    fresh = (profile("9"), PartnerLoad("9", open_assignments=2))
    winner, why = explained([veteran, fresh], ranking())
    assert winner == "9" and why.tie_rule == "newcomer first"
    return why


def two_newcomers() -> MatchExplanation:
    winner, why = explained(
        [(profile("3"), PartnerLoad("3")), (profile("4"), PartnerLoad("4"))], ranking()
    )
    assert winner == "3" and why.tie_rule.endswith("lowest MPN ID")
    return why


def alone_below_the_floor() -> MatchExplanation:
    winner, why = explained([(profile("1"), PartnerLoad("1", record=bad(12)))], ranking())
    assert winner == "1" and why.tie_rule == "only eligible partner"
    return why


def ahead_of_the_floor() -> MatchExplanation:
    low = (profile("1"), PartnerLoad("1", record=bad(12)))
    mid = (profile("2"), PartnerLoad("2", open_assignments=9, record=TrackRecord(offers=1)))
    winner, why = explained([low, mid], ranking())
    assert winner == "2" and why.tie_rule == "the runner-up is below the floor"
    return why


def rotation() -> MatchExplanation:
    accepts = (profile("1"), PartnerLoad("1", open_assignments=4, record=good(6)))
    expires = (profile("2"), PartnerLoad("2", open_assignments=0, record=bad(6)))
    winner, why = explained([accepts, expires], tr.Ranking(tr.RankingTerms(mode="rotation")))
    assert winner == "2" and why.score is None
    return why


CASES = [higher_band, same_band, newcomer, two_newcomers, alone_below_the_floor]
CASES += [ahead_of_the_floor, rotation]


def test_a_higher_band_is_named_with_the_score_and_not_the_open_count() -> None:
    text = " ".join(why_in_words(higher_band()))
    assert "Your score was 0.77 (band 0.75-0.80)" in text
    assert "from 6 offers: 6 accepted in time, 0 expired, 0 declined by you, 6 completed" in text
    assert "program's average (0.60)" in text
    assert "highest score band come first" in text
    assert "fewest open referrals" not in text  # it held more open referrals than the other


def test_inside_a_band_the_rotation_is_named() -> None:
    text = " ".join(why_in_words(same_band()))
    assert "Your score was" in text and "inside a band the partners share the work" in text
    assert "fewest open referrals: you had 0 open" in text


def test_newcomers_below_the_floor_and_the_only_partner() -> None:
    text = " ".join(why_in_words(newcomer()))
    assert "You had no offer yet" in text and "Your score was" not in text
    text = " ".join(why_in_words(two_newcomers()))
    assert "Another newcomer was eligible too" in text and "lowest MPN ID comes first" in text
    text = " ".join(why_in_words(alone_below_the_floor()))
    assert "You were the only eligible partner" in text
    assert "below the floor: you stay eligible but are offered referrals last" in text
    text = " ".join(why_in_words(ahead_of_the_floor()))
    assert "The next eligible partner was below the floor" in text


def test_rotation_names_the_open_count_and_the_wait_only() -> None:
    text = " ".join(why_in_words(rotation()))
    assert "fewest open referrals: you had 0 open" in text and "first referral" in text
    assert "score" not in text


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_every_line_comes_from_the_catalogs(case: object) -> None:
    why = case()  # type: ignore[operator]
    with i18n.using(i18n.PSEUDO):
        lines = why_in_words(why)
    card = why.score
    data = [card.band] if card is not None else []
    for line in lines:
        assert untranslated(line, data) == [], line


def test_a_german_partner_reads_its_score_in_german() -> None:
    with i18n.using("de"):
        text = " ".join(why_in_words(higher_band()))
    assert "0,77" in text and "0.75-0.80" in text and "Your score" not in text
