"""The match and its reservation: the index pre-filter, `domain.matching.evaluate` on the
partners it selects, and the race-safe, idempotent reservation of the chosen partner."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from db.candidates.index import DirectoryIndex, directory_index, index_of
from db.candidates.rows import (
    PARTNERS_BY_IDS,
    A,
    P,
    candidate_of,
    connection_of,
    load_partner,
    side_lists,
    utc,
)
from db.claim_lookup import active_claims
from db.directory_tick import bump_tick
from db.track_record import apply_changes, month_of
from db.transactions import dialect_insert, run_write
from domain.matching import Candidate, evaluate, partner_contact
from domain.models import (
    MatchExplanation,
    MatchRequest,
    MatchResult,
    Outcome,
    PartnerContact,
    ScoreCard,
)
from domain.track_record import ROTATION_ONLY, RankingTerms

MAX_RESERVE_ATTEMPTS = 8
MAX_STALE_RETRIES = 3  # index refreshes when a chosen partner changed under the match

_RECORDED = select(A.c.partner_id, A.c.explanation).where(
    A.c.workflow_id == bindparam("b_workflow_id"), A.c.seq == bindparam("b_seq")
)
_TAKE_SLOT = (
    update(P)
    .where(
        P.c.mpn_id == bindparam("b_mpn_id"),
        or_(P.c.max_open_referrals.is_(None), P.c.open_assignments < P.c.max_open_referrals),
    )
    .values(
        open_assignments=P.c.open_assignments + 1,
        last_assigned_at=bindparam("b_now"),
        change_tick=bindparam("b_tick"),
    )
)


class SlotTaken(Exception):
    """The chosen partner reached its capacity before the reservation: match again."""

    def __init__(self, mpn_id: str) -> None:
        super().__init__(f"partner {mpn_id} has no free slot left")
        self.mpn_id = mpn_id


class MatchConflict(Exception):
    """Reservation kept losing races; the caller (an activity) should retry later."""


def _load_indexed(
    session: Session, index: DirectoryIndex, ids: list[str], claimants: Sequence[str] = ()
) -> tuple[list[Candidate], list[Candidate]] | None:
    """The partners `ids` (in that order) and the CPOR claimants (those in the directory) as
    stored now, in one query; None when one of `ids` changed after the index last saw it
    (refresh the index and choose again). Side rows come from the index when it holds the
    row's version, else from the database."""
    wanted = list(dict.fromkeys([*ids, *claimants]))
    if not wanted:
        return [], []
    by_id = {
        r.mpn_id: r for r in connection_of(session).execute(PARTNERS_BY_IDS, {"b_ids": wanted})
    }
    for mpn_id in ids:
        row, seen = by_id.get(mpn_id), index.tick_of(mpn_id)
        if row is None or seen is None or row.change_tick > seen:
            return None
    # Versions the index does not hold: a claimant's, or rows of a snapshot older than the
    # index (SQLite, when another session refreshed it meanwhile).
    other = [m for m, r in by_id.items() if index.tick_of(m) != r.change_tick]
    sides = side_lists(session, other) if other else {}

    def candidate(mpn_id: str) -> Candidate:
        side = sides.get(mpn_id, {}) if mpn_id in other else index.side_of(mpn_id)
        return candidate_of(by_id[mpn_id], side)

    extra = [candidate(m) for m in dict.fromkeys(claimants) if m in by_id]
    return [candidate(m) for m in ids], extra


def _find_candidates(
    session: Session,
    request: MatchRequest,
    for_split: bool,
    limit: int | None,
    terms: RankingTerms = ROTATION_ONLY.terms,
) -> tuple[int, list[Candidate]]:
    for _ in range(MAX_STALE_RETRIES):
        index = index_of(session)
        ranking = index.ranking(terms)
        if for_split:
            ids = index.split_pool(request, ranking)
        else:
            ids = index.ranked(index.explain(request)[1], limit, ranking)
        found = _load_indexed(session, index, ids)
        if found is not None:
            return len(index.ids), found[0]
    raise MatchConflict("the directory kept changing under the match")


async def find_candidates(
    session: AsyncSession,
    request: MatchRequest,
    *,
    for_split: bool,
    limit: int | None = None,
    terms: RankingTerms = ROTATION_ONLY.terms,
) -> tuple[int, list[Candidate]]:
    """(directory size, pre-filtered partners).

    Single-partner mode (`for_split=False`): the partners passing every criterion, best
    ranked first (`limit` keeps only the first few: `evaluate` needs just the winner).
    Split mode: partners passing every criterion except that they need only one of the
    requested workloads, reduced to the best-ranked partner per endorsement set, which is
    all the split planner looks at (`domain.matching.split_pool`). `limit` is ignored.
    """
    return await session.run_sync(_find_candidates, request, for_split, limit, terms)


async def explain_counts(session: AsyncSession, request: MatchRequest) -> MatchExplanation:
    """`candidates`, `removed` and `eligible` exactly as `evaluate` on the whole directory:
    each partner is classified by the first criterion (in order) it fails."""
    index = await directory_index(session)
    return index.explain(request)[0]


async def match(
    session: AsyncSession, request: MatchRequest, terms: RankingTerms = ROTATION_ONLY.terms
) -> MatchResult:
    """`match_in` through an async session (reads only)."""
    return await session.run_sync(match_in, request, terms)


def match_in(
    session: Session, request: MatchRequest, terms: RankingTerms = ROTATION_ONLY.terms
) -> MatchResult:
    """Index pre-filter → evaluate (with the customer tenant's CPOR claims and their
    partners), with the explanation counts of the whole directory. The best two eligible
    partners are loaded: the runner-up names the rule that decided (`tie_rule`)."""
    claims = active_claims(session, request.referral.customer.tenant_id)
    claimants = [c.mpn_id for c in claims]
    for _ in range(MAX_STALE_RETRIES):
        index = index_of(session)
        ranking = index.ranking(terms)
        counted_at = index.tick
        counts, eligible = index.explain(request)
        top = index.ranked(eligible, 1 if ranking.rotation else 2, ranking)
        loaded = _load_indexed(session, index, top, claimants)
        if loaded is None:
            continue
        best, extra = loaded
        result = evaluate(_merge(best, extra), request, claims, ranking)
        if result.partner is None:
            # Another match refreshed the index while the partner loaded (it was taken,
            # say): count again, so the explanation describes the state the answer is from.
            if index.tick != counted_at:
                continue
            pool = _load_indexed(session, index, index.split_pool(request, ranking))
            if pool is None:
                continue
            result = evaluate(_merge(pool[0], extra), request, claims, ranking)
        result.explanation.candidates = counts.candidates
        result.explanation.removed = counts.removed
        result.explanation.eligible = counts.eligible
        return result
    raise MatchConflict(f"the directory kept changing under the match of {request.scope_id}")


def _merge(first: list[Candidate], extra: list[Candidate]) -> list[Candidate]:
    seen = {p.mpn_id for p, _ in first}
    return first + [c for c in extra if c[0].mpn_id not in seen]


def _explanation_from_json(data: dict[str, Any] | None) -> MatchExplanation:
    names = {f.name for f in fields(MatchExplanation)}
    found = {k: v for k, v in (data or {}).items() if k in names}
    if isinstance(found.get("score"), dict):
        card_names = {f.name for f in fields(ScoreCard)}
        found["score"] = ScoreCard(**{k: v for k, v in found["score"].items() if k in card_names})
    return MatchExplanation(**found)


def existing_reservation(session: Session, request: MatchRequest) -> MatchResult | None:
    """The result already recorded for (scope, attempt), if any."""
    row = (
        connection_of(session)
        .execute(_RECORDED, {"b_workflow_id": request.scope_id, "b_seq": request.attempt})
        .first()
    )
    if row is None:
        return None
    found = load_partner(session, row.partner_id)
    contact = (
        partner_contact(*found)
        if found
        else PartnerContact(
            mpn_id=row.partner_id, name="", referral_contact="", timezone="UTC", country=""
        )
    )
    return MatchResult(partner=contact, explanation=_explanation_from_json(row.explanation))


@functools.cache
def _insert_assignment(dialect: str) -> Any:
    return dialect_insert(dialect)(A).on_conflict_do_nothing(index_elements=["workflow_id", "seq"])


def reserve(
    session: Session,
    request: MatchRequest,
    result: MatchResult,
    now: datetime,
    window_days: int = ROTATION_ONLY.terms.window_days,
) -> MatchResult | None:
    """Record the assignment (scope_id, attempt) and take one of the partner's slots (a
    write transaction's work, see `db.transactions.run_write`).

    Idempotent: when that assignment already exists, writes nothing and returns None (the
    recorded result is `existing_reservation`'s). Raises `SlotTaken` when the partner has
    no free slot left; the transaction is then rolled back (the assignment row was inserted
    first) and the caller matches again.
    """
    if result.partner is None:
        raise ValueError("nothing to reserve: the result names no partner")
    now = utc(now) or now
    mpn_id = result.partner.mpn_id
    conn = connection_of(session)
    inserted = conn.execute(
        _insert_assignment(conn.dialect.name),
        {
            "workflow_id": request.scope_id,
            "referral_id": request.referral.referral_id,
            "seq": request.attempt,
            "partner_id": mpn_id,
            "outcome": Outcome.PENDING,
            "assigned_at": now,
            "reason": "",
            "note": "",
            "explanation": asdict(result.explanation),
        },
    )
    if getattr(inserted, "rowcount", 1) == 0:
        return None
    tick = bump_tick(conn)
    taken = conn.execute(_TAKE_SLOT, {"b_mpn_id": mpn_id, "b_now": now, "b_tick": tick})
    if getattr(taken, "rowcount", 0) != 1:
        raise SlotTaken(mpn_id)
    apply_changes(session, {(mpn_id, month_of(now)): {"offers": 1}}, now, window_days)
    return result


def _is_lock_error(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text or "deadlock" in text


def _match_and_reserve(
    session: Session, request: MatchRequest, now: datetime, terms: RankingTerms
) -> MatchResult:
    """One attempt, in one write transaction (see `match_and_reserve`)."""
    existing = existing_reservation(session, request)
    if existing is not None:
        return existing
    result = match_in(session, request, terms)
    if result.partner is None:
        return result
    if reserve(session, request, result, now, terms.window_days) is not None:
        return result
    existing = existing_reservation(session, request)  # recorded by a concurrent attempt
    if existing is None:
        raise MatchConflict(f"assignment {request.scope_id} #{request.attempt} vanished")
    return existing


async def match_and_reserve(
    sessionmaker: async_sessionmaker[AsyncSession],
    request: MatchRequest,
    now: datetime,
    terms: RankingTerms = ROTATION_ONLY.terms,
) -> MatchResult:
    """Match and, when a partner is chosen, reserve it; retry-safe and race-safe.

    Returns the recorded result when (scope_id, attempt) was already assigned. A split or an
    escalation result (no partner) is returned without writing anything. Raises
    `MatchConflict` after `MAX_RESERVE_ATTEMPTS` lost races.

    The lookup of an earlier result, the match and the reservation run as one write
    transaction (`db.transactions.run_write`): on a SQLite file, whole on the writer thread,
    so no other writer can take the partner in between; on PostgreSQL the conditional
    `UPDATE` decides a race (`SlotTaken`: match again). An index rebuild (the first match, or
    an import changing more than `REBUILD_ABOVE` partners) runs inside that transaction too.
    """
    work = functools.partial(_match_and_reserve, request=request, now=now, terms=terms)
    for attempt in range(MAX_RESERVE_ATTEMPTS):
        try:
            return await run_write(sessionmaker, work)
        except SlotTaken:
            continue
        except OperationalError as exc:
            if not _is_lock_error(exc):
                raise
            await asyncio.sleep(0.01 * (attempt + 1))
    raise MatchConflict(
        f"could not reserve a partner for {request.scope_id} #{request.attempt} "
        f"after {MAX_RESERVE_ATTEMPTS} attempts"
    )
