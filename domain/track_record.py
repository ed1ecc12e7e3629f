"""A partner's track record and its score: pure functions, no I/O, no clock reads.

The score is the estimated chance that an offer to the partner ends accepted in time and
delivered. Offers judged: completed (success); expired, declined on the partner's side,
declined after accepting, or accepted and still open after `JUDGE_AFTER_DAYS` (failures).
Declines for a reason on the customer's side are neutral, and engagements still running
are neither until they are old enough to judge. The estimate is shrunk toward the program's
average with a Beta prior of `prior_weight` offers:
    score = (completed + prior_weight * average) / (judged + prior_weight)
so a partner with few judged offers sits near the average.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, Literal

from domain.models import Outcome, Reason, ScoreCard, TrackRecord
from domain.text import Text, tr, trn

JUDGE_AFTER_DAYS = 120  # an accepted engagement still open after this long counts as undelivered
FLOOR_AFTER = 10  # judged offers before the floor applies
DEFAULT_AVERAGE = 0.5  # the program's average while nothing is judged yet

PARTNER_SIDE: frozenset[str] = frozenset(
    {
        Reason.PARTNER_AT_CAPACITY,
        Reason.OTHER,
        Reason.CUSTOMER_TYPE_NOT_SUPPORTED,
        Reason.LANGUAGE_NOT_SUPPORTED,
    }
)
CUSTOMER_SIDE: frozenset[str] = frozenset(
    {Reason.WORKING_WITH_OTHER_PARTNER, Reason.CUSTOMER_UNRESPONSIVE, Reason.LEGAL_OR_POLITICAL}
)
# decline reasons that mean the partner's profile is wrong, and the field to fix
PROFILE_FIELD: dict[str, str] = {
    Reason.CUSTOMER_TYPE_NOT_SUPPORTED: "segments",
    Reason.LANGUAGE_NOT_SUPPORTED: "languages",
}

NEWCOMER, RANKED, NEEDS_ATTENTION, ROTATION = "newcomer", "ranked", "needs_attention", "rotation"
COUNTERS: tuple[str, ...] = tuple(f.name for f in fields(TrackRecord))


@dataclass(frozen=True)
class RankingTerms:
    """The ranking settings (RANKING, RANKING_BAND, RANKING_FLOOR, RANKING_PRIOR_WEIGHT)."""

    mode: Literal["track_record", "rotation"] = "rotation"
    band: float = 0.05
    floor: float = 0.3
    prior_weight: float = 16.0
    window_days: int = 365


@dataclass(frozen=True)
class Ranking:
    """The terms and the program's average one match ranks with."""

    terms: RankingTerms = RankingTerms()
    average: float = DEFAULT_AVERAGE

    @property
    def rotation(self) -> bool:
        return self.terms.mode == "rotation"


ROTATION_ONLY = Ranking()


def judged(r: TrackRecord) -> int:
    """Offers whose end counts in the score."""
    return r.completed + failures(r)


def failures(r: TrackRecord) -> int:
    return r.expired + r.declined_partner + r.declined_after_accept + r.overdue


def running(r: TrackRecord) -> int:
    """Accepted engagements not yet judged."""
    return max(0, r.accepted - r.completed - r.declined_after_accept - r.overdue)


def score(r: TrackRecord, average: float, prior_weight: float) -> float:
    """The shrunk estimate (module docstring); `average` when nothing is judged yet."""
    return (r.completed + prior_weight * average) / (judged(r) + prior_weight)


def program_average(records: Iterable[TrackRecord]) -> float:
    """Share of judged offers that were delivered, over every partner, to two decimals (so
    that it moves in steps, not with each outcome); `DEFAULT_AVERAGE` when none is judged."""
    good = total = 0
    for r in records:
        good += r.completed
        total += judged(r)
    return average_of(good, total)


def average_of(completed: int, judged_total: int) -> float:
    if judged_total <= 0:
        return DEFAULT_AVERAGE
    return round(completed / judged_total, 2)


def is_newcomer(r: TrackRecord) -> bool:
    """No offer yet in the window: it gets the next eligible referral (`domain.matching`)."""
    return r.offers == 0


def below_floor(r: TrackRecord, ranking: Ranking) -> bool:
    terms = ranking.terms
    return judged(r) >= FLOOR_AFTER and score(r, ranking.average, terms.prior_weight) < terms.floor


def band_index(value: float, width: float) -> int:
    """Band number of a score: 0 for [0, width), 1 for [width, 2*width), ..."""
    return int(value / width + 1e-9)


def band_label(value: float, width: float) -> str:
    low = band_index(value, width) * width
    return f"{low:.2f}-{min(1.0, low + width):.2f}"


def standing(r: TrackRecord, ranking: Ranking) -> tuple[int, int]:
    """(tier, band) of the rank key, smaller first: newcomers (tier 0), then by score band,
    best band first (tier 1), then partners below the floor (tier 2). Rotation: (1, 0)."""
    if ranking.rotation:
        return (1, 0)
    if is_newcomer(r):
        return (0, 0)
    s = score(r, ranking.average, ranking.terms.prior_weight)
    tier = 2 if below_floor(r, ranking) else 1
    return (tier, -band_index(s, ranking.terms.band))


def standing_name(r: TrackRecord, ranking: Ranking) -> str:
    if ranking.rotation:
        return ROTATION
    if is_newcomer(r):
        return NEWCOMER
    return NEEDS_ATTENTION if below_floor(r, ranking) else RANKED


def scorecard(mpn_id: str, r: TrackRecord, ranking: Ranking) -> ScoreCard:
    s = score(r, ranking.average, ranking.terms.prior_weight)
    return ScoreCard(
        mpn_id=mpn_id,
        score=round(s, 4),
        average=ranking.average,
        standing=standing_name(r, ranking),
        band=band_label(s, ranking.terms.band),
        offers=r.offers,
        accepted=r.accepted,
        expired=r.expired,
        declined_partner=r.declined_partner,
        completed=r.completed,
        judged=judged(r),
    )


def score_parts(card: ScoreCard) -> str:
    """The score and what it is made of, in one line."""
    return (
        f"{card.score:.2f} (band {card.band}, {card.standing.replace('_', ' ')}): "
        f"{card.offers} offers, {card.accepted} accepted in time, {card.expired} expired, "
        f"{card.declined_partner} declined by the partner, {card.completed} completed; "
        f"shrunk toward the program's average {card.average:.2f}"
    )


def advice(r: TrackRecord, ranking: Ranking = ROTATION_ONLY) -> list[str]:
    """What would raise the partner's score, most useful first (for its own page)."""
    return [str(text) for text in advice_texts(r, ranking)]


def advice_texts(r: TrackRecord, ranking: Ranking) -> list[Text]:
    """`advice` as messages, for the pages' catalogs."""
    out: list[Text] = []
    if r.expired:
        out.append(
            trn(
                "%(n)s offer expired unanswered: answer every offer within the window, "
                "even to decline it; silence costs the most",
                "%(n)s offers expired unanswered: answer every offer within the window, "
                "even to decline it; silence costs the most",
                r.expired,
            )
        )
    if r.declined_customer_type:
        out.append(
            trn(
                "%(n)s decline said the customer type is not supported: fix the segments "
                "in your referral profile so such referrals no longer reach you",
                "%(n)s declines said the customer type is not supported: fix the segments "
                "in your referral profile so such referrals no longer reach you",
                r.declined_customer_type,
            )
        )
    if r.declined_language:
        out.append(
            trn(
                "%(n)s decline said the language is not supported: fix the languages in "
                "your referral profile",
                "%(n)s declines said the language is not supported: fix the languages in "
                "your referral profile",
                r.declined_language,
            )
        )
    capacity_like = r.declined_partner - r.declined_customer_type - r.declined_language
    if capacity_like > 0:
        out.append(
            trn(
                "%(n)s decline for capacity or other reasons: pause referrals while you are "
                "full instead of declining them",
                "%(n)s declines for capacity or other reasons: pause referrals while you are "
                "full instead of declining them",
                capacity_like,
            )
        )
    if r.declined_after_accept or r.overdue:
        out.append(
            trn(
                "%(n)s accepted engagement was not delivered: record completion when the "
                "engagement ends",
                "%(n)s accepted engagements were not delivered: record completion when the "
                "engagement ends",
                r.declined_after_accept + r.overdue,
            )
        )
    if not out and is_newcomer(r):
        out.append(tr("no offer yet: the next referral you are eligible for comes to you first"))
    elif not out:
        out.append(
            tr("keep accepting in time and recording completion: nothing is holding it back")
        )
    return out


# `tie_rule`'s words, recorded with each match (the pages say them in the partner's language)
ONLY_ELIGIBLE = "only eligible partner"
NEWCOMER_FIRST = "newcomer first"
RUNNER_UP_BELOW_FLOOR = "the runner-up is below the floor"
HIGHER_BAND = "higher score band"
SAME_BAND = "same band"  # how every rule decided inside one band begins
LOWEST_MPN_ID = "lowest MPN ID"  # how the last of them ends


def tie_rule(best: tuple[Any, ...], runner_up: tuple[Any, ...] | None) -> str:
    """The rule that put `best` ahead of the runner-up (rank keys of `domain.matching`), in
    words."""
    if runner_up is None:
        return ONLY_ELIGIBLE
    if best[0] != runner_up[0]:
        return NEWCOMER_FIRST if best[0] == 0 else RUNNER_UP_BELOW_FLOOR
    if best[1] != runner_up[1]:
        return HIGHER_BAND
    if best[2] != runner_up[2]:
        return f"{SAME_BAND}; fewest open referrals ({best[2]} vs {runner_up[2]})"
    if best[3:5] != runner_up[3:5]:
        return f"{SAME_BAND} and open count; least recently assigned"
    return f"{SAME_BAND}, open count and last assignment; {LOWEST_MPN_ID}"


# ---------------------------------------------------------------------------------------
# Updates: how one change of an assignment moves its partner's record
# ---------------------------------------------------------------------------------------


def offer_changes(
    before: str | None, after: str, reason: str, accepted: bool, vas_sold: bool = False
) -> dict[str, int]:
    """Counter increments for an assignment whose outcome moved from `before` (None: the
    assignment is new) to `after`. `accepted`: it was accepted at some point (a decline after
    accepting keeps `accepted_at`); `vas_sold`: the completion says value-added services sold."""
    out: dict[str, int] = {}
    if before is None:
        out["offers"] = 1
    if before == after:
        return out
    was_accepted = before in Outcome.TAKEN or (before == "declined" and accepted)
    if accepted and not was_accepted and after in ("accepted", "declined", "completed"):
        out["accepted"] = 1
    if after == "expired":
        out["expired"] = 1
    elif after == "declined" and accepted:
        out["declined_after_accept"] = 1
    elif after == "declined" and reason in PARTNER_SIDE:
        out["declined_partner"] = 1
        if reason == Reason.CUSTOMER_TYPE_NOT_SUPPORTED:
            out["declined_customer_type"] = 1
        elif reason == Reason.LANGUAGE_NOT_SUPPORTED:
            out["declined_language"] = 1
    elif after == "declined":
        out["declined_customer"] = 1
    elif after == "completed":
        out["completed"] = 1
        if vas_sold:
            out["vas_sold"] = 1
    return out


def account_team_first(team_at: datetime | None, kickoff_at: datetime | None) -> bool:
    """The account team was contacted before the first customer meeting, as the guide asks
    of Microsoft-requested referrals: contacted, and no kick-off yet or a later one."""
    return team_at is not None and (kickoff_at is None or team_at <= kickoff_at)


def add(r: TrackRecord, changes: dict[str, int]) -> TrackRecord:
    values = {name: getattr(r, name) + changes.get(name, 0) for name in COUNTERS}
    return TrackRecord(**values)


def window_start(as_of: date, window_days: int) -> date:
    """First month (its first day) inside the trailing window ending `as_of`."""
    first = date.fromordinal(as_of.toordinal() - window_days)
    return first.replace(day=1)


def summed(months: Iterable[tuple[date, dict[str, int]]], as_of: date) -> TrackRecord:
    """A partner's record from its monthly counters (the months inside the window): accepted
    engagements from months older than `JUDGE_AFTER_DAYS` that are still open count as
    overdue."""
    total = TrackRecord()
    for month, counts in months:
        r = TrackRecord(**{k: int(v) for k, v in counts.items() if k in COUNTERS})
        age = as_of.toordinal() - month.toordinal()
        if age > JUDGE_AFTER_DAYS + 31:
            r.overdue = running(r)
        total = add(total, {name: getattr(r, name) for name in COUNTERS})
    return total


def record_of(counts: dict[str, int] | None) -> TrackRecord:
    return TrackRecord(**{k: int(v) for k, v in (counts or {}).items() if k in COUNTERS})


def crossed_floor(before: TrackRecord, after: TrackRecord, ranking: Ranking) -> bool:
    return not below_floor(before, ranking) and below_floor(after, ranking)
