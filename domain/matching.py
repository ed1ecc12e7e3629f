"""Eligibility, ranking and split planning: which partner gets a referral (or part), and why.

Pure functions (stdlib only, no I/O, no clock reads): workflow code may import them.

Eligibility is a fixed, ordered table of named criteria (`CRITERIA`). `evaluate` applies them
in that order and explains how many partners each one removed, applies the CPOR claim rule
(`domain.claims.cpor_verdict`), ranks the eligible partners and, when no single partner is
endorsed for every requested workload, plans a split over as few partners as possible.

Ranking (best first), identical in the directory index (`db/candidates/index.py`), which
ranks with `load_rank_key`. Eligibility (capacity included) and the CPOR claimant come
first; then, with `RANKING=track_record` (`domain.track_record`):
1. newcomers: a partner with no offer in the ranking window gets the next eligible referral
   before anyone else; after its first offer it is ranked by its shrunk score, which starts
   at the program's average;
2. the score, in bands of `RANKING_BAND` (best band first); partners below `RANKING_FLOOR`
   (after `FLOOR_AFTER` judged offers) stay eligible but come last;
3. inside a band, the rotation order, so that equally good partners share the work:
   a. fewest open assignments: the same count for every partner, whether it sets
      `max_open_referrals` or not (capacity decides eligibility, never the order);
   b. least recently assigned (never assigned first);
   c. MPN ID (code-point order).
`RANKING=rotation` skips 1 and 2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from domain.claims import NOT_IN_DIRECTORY, Claim, cpor_verdict
from domain.models import (
    MatchExplanation,
    MatchRequest,
    MatchResult,
    PartnerContact,
    PartnerLoad,
    PartnerProfile,
)
from domain.pauses import is_paused
from domain.track_record import (
    ROTATION_ONLY,
    Ranking,
    score_parts,
    scorecard,
    standing,
    tie_rule,
)

MAX_SPLIT_WORKLOADS = 12  # exact split planning enumerates subsets of the requested workloads
COMMERCIAL = "commercial"

Candidate = tuple[PartnerProfile, PartnerLoad]
RankKey = tuple[int, int, int, int, datetime, str]  # tier, band, open, ever, last, MPN ID
_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class MatchContext:
    """What the criteria need to know about one request (derived once per evaluation)."""

    request: MatchRequest
    workloads: frozenset[str]
    as_of: datetime  # aware, UTC
    excluded: frozenset[str]
    loads: dict[str, PartnerLoad] = field(default_factory=dict)

    @classmethod
    def of(cls, request: MatchRequest, candidates: Iterable[Candidate] = ()) -> MatchContext:
        return cls(
            request=request,
            workloads=frozenset(request.workloads),
            as_of=as_utc(request.as_of),
            excluded=frozenset(request.excluded),
            loads={p.mpn_id: load for p, load in candidates},
        )

    def load(self, mpn_id: str) -> PartnerLoad:
        return self.loads.get(mpn_id) or PartnerLoad(mpn_id=mpn_id)


def as_utc(as_of: datetime) -> datetime:
    """The moment a pause is compared with; naive datetimes are taken as UTC."""
    return as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of.astimezone(UTC)


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


# ---------------------------------------------------------------------------------------
# Criteria (fixed order)
# ---------------------------------------------------------------------------------------


def type_opt_in(p: PartnerProfile, ctx: MatchContext) -> bool:
    if ctx.request.referral.type == "benefit":
        return p.fasttrack_ready and p.benefit_referrals
    return p.referral_ready


def not_paused(p: PartnerProfile, ctx: MatchContext) -> bool:
    return not is_paused(p.paused_until, p.timezone, ctx.as_of)


def workloads(p: PartnerProfile, ctx: MatchContext) -> bool:
    return ctx.workloads.issubset(p.workloads)


def language(p: PartnerProfile, ctx: MatchContext) -> bool:
    return ctx.request.referral.customer.language in p.languages


def segment(p: PartnerProfile, ctx: MatchContext) -> bool:
    wanted = ctx.request.referral.customer.segment
    return wanted == COMMERCIAL or wanted in p.segments


def seats(p: PartnerProfile, ctx: MatchContext) -> bool:
    n = ctx.request.referral.customer.seats
    return p.min_seats <= n and (p.max_seats is None or n <= p.max_seats)


def country(p: PartnerProfile, ctx: MatchContext) -> bool:
    wanted = ctx.request.referral.customer.country
    return wanted == p.home_country or wanted in p.countries


def not_excluded(p: PartnerProfile, ctx: MatchContext) -> bool:
    return p.mpn_id not in ctx.excluded


def capacity(p: PartnerProfile, ctx: MatchContext) -> bool:
    cap = p.max_open_referrals
    return cap is None or ctx.load(p.mpn_id).open_assignments < cap


Criterion = Callable[[PartnerProfile, MatchContext], bool]

CRITERIA: list[tuple[str, Criterion]] = [
    ("type_opt_in", type_opt_in),
    ("not_paused", not_paused),
    ("workloads", workloads),
    ("language", language),
    ("segment", segment),
    ("seats", seats),
    ("country", country),
    ("not_excluded", not_excluded),
    ("capacity", capacity),
]
CRITERION_NAMES: tuple[str, ...] = tuple(name for name, _ in CRITERIA)


def first_failed(p: PartnerProfile, ctx: MatchContext, *, skip: str = "") -> str | None:
    """Name of the first criterion `p` fails (criteria named `skip` ignored), or None."""
    for name, check in CRITERIA:
        if name != skip and not check(p, ctx):
            return name
    return None


def is_eligible(p: PartnerProfile, ctx: MatchContext) -> bool:
    return first_failed(p, ctx) is None


# ---------------------------------------------------------------------------------------
# Ranking
# ---------------------------------------------------------------------------------------


def rank_key(p: PartnerProfile, load: PartnerLoad, ranking: Ranking = ROTATION_ONLY) -> RankKey:
    """Smaller is better: standing (newcomer, score band, floor), open count, never/least
    recently assigned, MPN ID."""
    return load_rank_key(p.mpn_id, p.max_open_referrals, load, ranking)


def load_rank_key(
    mpn_id: str,
    max_open_referrals: int | None,
    load: PartnerLoad,
    ranking: Ranking = ROTATION_ONLY,
) -> RankKey:
    """`rank_key` from the fields a directory index holds. `max_open_referrals` does not
    change the order (see the module docstring); it stays in the signature the index uses."""
    tier, band = standing(load.record, ranking)
    last = load.last_assigned_at
    if last is None:
        return (tier, band, load.open_assignments, 0, _EPOCH, mpn_id)
    return (tier, band, load.open_assignments, 1, _utc(last), mpn_id)


def rank_explanation(p: PartnerProfile, load: PartnerLoad) -> dict[str, str]:
    cap = "unlimited" if p.max_open_referrals is None else str(p.max_open_referrals)
    last = load.last_assigned_at
    return {
        "load": f"{load.open_assignments}/{cap}",
        "last_assigned": "never" if last is None else _utc(last).isoformat(),
        "key": p.mpn_id,
    }


def ranked(candidates: Iterable[Candidate], ranking: Ranking = ROTATION_ONLY) -> list[Candidate]:
    return sorted(candidates, key=lambda c: rank_key(c[0], c[1], ranking))


def partner_contact(p: PartnerProfile, load: PartnerLoad) -> PartnerContact:
    return PartnerContact(
        mpn_id=p.mpn_id,
        name=p.name,
        referral_contact=p.referral_contact,
        timezone=p.timezone,
        country=p.home_country,
        capacity_declines_used=load.capacity_declines,
        locale=p.effective_locale,
    )


# ---------------------------------------------------------------------------------------
# Split planning
# ---------------------------------------------------------------------------------------


def requested_workloads(request: MatchRequest) -> list[str]:
    """The scope's workloads, duplicates dropped, in request order."""
    return list(dict.fromkeys(request.workloads))


def workload_mask(p: PartnerProfile, order: Sequence[str]) -> int:
    endorsed = set(p.workloads)
    return sum(1 << i for i, w in enumerate(order) if w in endorsed)


def split_pool(
    candidates: Iterable[Candidate], request: MatchRequest, ranking: Ranking = ROTATION_ONLY
) -> dict[int, Candidate]:
    """Best-ranked partner per endorsement set (endorsed ∩ requested, non-empty), among the
    partners passing every criterion except `workloads`."""
    cands = list(candidates)
    ctx = MatchContext.of(request, cands)
    order = requested_workloads(request)
    best: dict[int, Candidate] = {}
    for p, load in cands:
        mask = workload_mask(p, order)
        if mask == 0 or first_failed(p, ctx, skip="workloads") is not None:
            continue
        kept = best.get(mask)
        if kept is None or rank_key(p, load, ranking) < rank_key(kept[0], kept[1], ranking):
            best[mask] = (p, load)
    return best


def _min_covers(full: int, masks: Iterable[int]) -> list[int]:
    """cover[u] = fewest masks whose union contains u (a large number when impossible)."""
    impossible = 1 << 30
    coverable = [False] * (full + 1)  # coverable[s]: s is a subset of some mask
    for m in masks:
        coverable[m] = True
    for bit in range(full.bit_length()):
        for s in range(full, -1, -1):
            if coverable[s] and s & (1 << bit):
                coverable[s & ~(1 << bit)] = True
    cover = [impossible] * (full + 1)
    cover[0] = 0
    for u in range(1, full + 1):
        low = u & -u
        rest = u & ~low
        best = impossible
        sub = rest
        while True:  # every subset s of u that contains u's lowest bit
            s = sub | low
            if coverable[s] and cover[u & ~s] + 1 < best:
                best = cover[u & ~s] + 1
            if sub == 0:
                break
            sub = (sub - 1) & rest
        cover[u] = best
    return cover


def plan_split(
    pool: dict[int, Candidate], order: Sequence[str], ranking: Ranking = ROTATION_ONLY
) -> list[list[str]] | None:
    """Divide `order` among as few pool partners as possible; None when they cannot cover it.

    Among minimum covers the one whose partners, sorted by rank, are lexicographically best
    wins: repeatedly take the best-ranked partner that still leads to a minimum cover, and
    give it the not yet assigned workloads it is endorsed for. Parts come in request order.
    """
    if len(order) > MAX_SPLIT_WORKLOADS:
        raise ValueError(f"cannot plan a split over more than {MAX_SPLIT_WORKLOADS} workloads")
    full = (1 << len(order)) - 1
    union = 0
    for m in pool:
        union |= m
    if full == 0 or union & full != full:
        return None
    cover = _min_covers(full, pool)
    by_rank = sorted(pool.items(), key=lambda item: rank_key(item[1][0], item[1][1], ranking))
    remaining, parts_masks = full, []
    need = cover[full]
    while remaining:
        for mask, _cand in by_rank:
            part = mask & remaining
            if part and cover[remaining & ~part] == need - 1:
                parts_masks.append(part)
                remaining &= ~part
                need -= 1
                break
        else:  # pragma: no cover - cover[] guarantees progress
            raise AssertionError("split planning made no progress")
    parts = [[w for i, w in enumerate(order) if m >> i & 1] for m in parts_masks]
    parts.sort(key=lambda part: order.index(part[0]))
    return parts


# ---------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------


def explain_removals(
    candidates: Sequence[Candidate], ctx: MatchContext
) -> tuple[dict[str, int], list[Candidate]]:
    """Per criterion (in order) how many partners it removed, and the eligible partners."""
    removed = dict.fromkeys(CRITERION_NAMES, 0)
    eligible: list[Candidate] = []
    for cand in candidates:
        failed = first_failed(cand[0], ctx)
        if failed is None:
            eligible.append(cand)
        else:
            removed[failed] += 1
    return removed, eligible


def evaluate(
    partners: list[Candidate],
    request: MatchRequest,
    claims: Sequence[Claim] = (),
    ranking: Ranking = ROTATION_ONLY,
) -> MatchResult:
    """Choose the partner for `request` (or plan a split, or escalate) and explain why.
    `claims`: the customer tenant's active CPOR claims (their partners among `partners`);
    `ranking`: the ranking terms and the program's average (rotation by default)."""
    ctx = MatchContext.of(request, partners)
    removed, eligible = explain_removals(partners, ctx)
    explanation = MatchExplanation(
        candidates=len(partners), removed=removed, eligible=len(eligible)
    )
    result = MatchResult(partner=None, explanation=explanation)

    by_id = {c[0].mpn_id: c for c in partners}

    def failed_of(mpn_id: str) -> str | None:
        found = by_id.get(mpn_id)
        return NOT_IN_DIRECTORY if found is None else first_failed(found[0], ctx)

    verdict = cpor_verdict(
        claims,
        request.referral.customer.tenant_id,
        request.referral.cpor_partner,
        requested_workloads(request),
        failed_of,
        lambda mpn_id: rank_key(by_id[mpn_id][0], by_id[mpn_id][1], ranking),
    )
    if verdict.chosen is not None:
        chosen = by_id[verdict.chosen]
        explanation.cpor = "chosen"
        explanation.note = f"CPOR: {verdict.note}" if verdict.notes else ""
        explanation.rank_keys = {"rule": "cpor", **rank_explanation(*chosen)}
        _explain_score(explanation, chosen, ranking)
        explanation.tie_rule = "claiming partner of record" if not ranking.rotation else ""
        result.partner = partner_contact(*chosen)
        return result
    explanation.cpor = verdict.note

    if eligible:
        first_two = sorted(eligible, key=lambda c: rank_key(c[0], c[1], ranking))[:2]
        best = first_two[0]
        explanation.rank_keys = rank_explanation(*best)
        _explain_score(explanation, best, ranking)
        if not ranking.rotation:
            runner = (
                rank_key(first_two[1][0], first_two[1][1], ranking) if len(first_two) > 1 else None
            )
            explanation.tie_rule = tie_rule(rank_key(best[0], best[1], ranking), runner)
            explanation.rank_keys["tie_rule"] = explanation.tie_rule
        result.partner = partner_contact(*best)
        return result

    order = requested_workloads(request)
    pool = split_pool(partners, request, ranking)
    parts = plan_split(pool, order, ranking) if request.allow_split and len(order) > 1 else None
    if parts and len(parts) > 1:
        result.split = parts
        explanation.note = "no single eligible partner covers every workload; split into " + (
            " | ".join(", ".join(part) for part in parts)
        )
        return result
    explanation.note, explanation.missing = escalation_note(pool, order)
    return result


def _explain_score(explanation: MatchExplanation, chosen: Candidate, ranking: Ranking) -> None:
    """The winner's score card, recorded with the result (and shown as "why this partner")."""
    if ranking.rotation:
        return
    card = scorecard(chosen[0].mpn_id, chosen[1].record, ranking)
    explanation.score = card
    explanation.rank_keys["score"] = score_parts(card)


NOTE_NOBODY = "no eligible partner"
NOTE_NOT_COVERED = "no eligible partner covers: "
NOTE_NO_SINGLE = "no single eligible partner covers every workload"


def escalation_note(pool: dict[int, Candidate], order: Sequence[str]) -> tuple[str, list[str]]:
    """Why nobody got it, in words, and the workloads no eligible partner covers."""
    if not order:
        return NOTE_NOBODY, []
    covered = 0
    for m in pool:
        covered |= m
    missing = [w for i, w in enumerate(order) if not covered >> i & 1]
    if missing:
        return NOTE_NOT_COVERED + ", ".join(missing), missing
    return NOTE_NO_SINGLE, []
