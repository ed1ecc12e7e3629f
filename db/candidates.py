"""Matching against the partner directory: indexed SQL pre-filter, explanation counts and a
race-safe, idempotent reservation of the chosen partner.

The SQL criteria mirror `domain.matching.CRITERIA` one for one (same names, same order), so
the pure `evaluate` run on what `find_candidates` returns makes the same choice it would make
on the whole directory, and `explain_counts` gives the numbers it would give on the whole
directory (one scan classifying each partner by the first criterion it fails).

Portable between SQLite and PostgreSQL. Datetimes are written in UTC; naive values read
back (SQLite) are taken as UTC.
"""

from __future__ import annotations

import asyncio
import typing
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    Table,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import (
    AssignmentRecord,
    Partner,
    PartnerCountry,
    PartnerLanguage,
    PartnerSegment,
    PartnerWorkload,
)
from domain.matching import (
    COMMERCIAL,
    CRITERION_NAMES,
    UNLIMITED_CAPACITY,
    Candidate,
    as_of_date,
    evaluate,
    partner_contact,
    requested_workloads,
)
from domain.models import (
    MatchExplanation,
    MatchRequest,
    MatchResult,
    Outcome,
    PartnerContact,
    PartnerLoad,
    PartnerProfile,
)

P = typing.cast(Table, Partner.__table__)
W = typing.cast(Table, PartnerWorkload.__table__)
L = typing.cast(Table, PartnerLanguage.__table__)
C = typing.cast(Table, PartnerCountry.__table__)
S = typing.cast(Table, PartnerSegment.__table__)
A = typing.cast(Table, AssignmentRecord.__table__)

MAX_RESERVE_ATTEMPTS = 8

_PARTNER_COLUMNS = (
    P.c.mpn_id,
    P.c.name,
    P.c.referral_contact,
    P.c.referral_ready,
    P.c.benefit_referrals,
    P.c.fasttrack_ready,
    P.c.min_seats,
    P.c.max_seats,
    P.c.home_country,
    P.c.timezone,
    P.c.paused_until,
    P.c.max_open_referrals,
    P.c.open_assignments,
    P.c.last_assigned_at,
    P.c.capacity_declines,
)


class SlotTaken(Exception):
    """The chosen partner reached its capacity before the reservation: match again."""

    def __init__(self, mpn_id: str) -> None:
        super().__init__(f"partner {mpn_id} has no free slot left")
        self.mpn_id = mpn_id


class MatchConflict(Exception):
    """Reservation kept losing races; the caller (an activity) should retry later."""


# ---------------------------------------------------------------------------------------
# SQL criteria (same names and order as domain.matching.CRITERIA)
# ---------------------------------------------------------------------------------------


def _has_all_workloads(workloads: Sequence[str]) -> ColumnElement[bool]:
    """Uncorrelated (hashed / materialized once): the partners endorsed for all of them."""
    if not workloads:
        return true()
    if len(workloads) == 1:
        return P.c.mpn_id.in_(select(W.c.mpn_id).where(W.c.workload == workloads[0]))
    return P.c.mpn_id.in_(
        select(W.c.mpn_id)
        .where(W.c.workload.in_(workloads))
        .group_by(W.c.mpn_id)
        .having(func.count() == len(workloads))
    )


def _has_any_workload(workloads: Sequence[str]) -> ColumnElement[bool]:
    if not workloads:
        return false()
    return P.c.mpn_id.in_(select(W.c.mpn_id).where(W.c.workload.in_(workloads)))


def sql_criteria(request: MatchRequest, *, for_split: bool = False) -> list[tuple[str, Any]]:
    """(name, SQL condition) per criterion; `for_split` relaxes `workloads` to "any"."""
    customer = request.referral.customer
    ws = requested_workloads(request)
    if request.referral.type == "benefit":
        opt_in = and_(P.c.fasttrack_ready == true(), P.c.benefit_referrals == true())
    else:
        opt_in = P.c.referral_ready == true()
    segment_ok: ColumnElement[bool] = (
        true()
        if customer.segment == COMMERCIAL
        else P.c.mpn_id.in_(select(S.c.mpn_id).where(S.c.segment == customer.segment))
    )
    excluded = sorted(set(request.excluded))
    return [
        ("type_opt_in", opt_in),
        (
            "not_paused",
            or_(P.c.paused_until.is_(None), P.c.paused_until < as_of_date(request.as_of)),
        ),
        ("workloads", _has_any_workload(ws) if for_split else _has_all_workloads(ws)),
        (
            "language",
            P.c.mpn_id.in_(select(L.c.mpn_id).where(L.c.language == customer.language)),
        ),
        ("segment", segment_ok),
        (
            "seats",
            and_(
                P.c.min_seats <= customer.seats,
                or_(P.c.max_seats.is_(None), P.c.max_seats >= customer.seats),
            ),
        ),
        (
            "country",
            or_(
                P.c.home_country == customer.country,
                P.c.mpn_id.in_(select(C.c.mpn_id).where(C.c.country == customer.country)),
            ),
        ),
        ("not_excluded", P.c.mpn_id.not_in(excluded) if excluded else true()),
        (
            "capacity",
            or_(
                P.c.max_open_referrals.is_(None),
                P.c.open_assignments < P.c.max_open_referrals,
            ),
        ),
    ]


def _rank_order(dialect: str) -> list[Any]:
    """ORDER BY equal to domain.matching.rank_key."""
    ratio = case(
        (P.c.max_open_referrals.is_(None), cast(P.c.open_assignments, Float) / UNLIMITED_CAPACITY),
        (P.c.max_open_referrals <= 0, literal(1e300, Float)),
        else_=cast(P.c.open_assignments, Float) / P.c.max_open_referrals,
    )
    key = P.c.mpn_id.collate("C") if dialect == "postgresql" else P.c.mpn_id
    return [
        ratio,
        P.c.open_assignments,
        case((P.c.last_assigned_at.is_(None), 0), else_=1),
        P.c.last_assigned_at,
        key,
    ]


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


# ---------------------------------------------------------------------------------------
# Loading rows as domain objects
# ---------------------------------------------------------------------------------------


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


async def load_partners(session: AsyncSession, rows: Sequence[Any]) -> list[Candidate]:
    """Profiles and loads for partner rows (selected with the partner columns), in order."""
    if not rows:
        return []
    ids = [r.mpn_id for r in rows]
    lists: dict[str, dict[str, list[str]]] = {i: {"w": [], "l": [], "c": [], "s": []} for i in ids}
    side = union_all(
        select(W.c.mpn_id, literal("w").label("k"), W.c.workload.label("v")).where(
            W.c.mpn_id.in_(ids)
        ),
        select(L.c.mpn_id, literal("l"), L.c.language).where(L.c.mpn_id.in_(ids)),
        select(C.c.mpn_id, literal("c"), C.c.country).where(C.c.mpn_id.in_(ids)),
        select(S.c.mpn_id, literal("s"), S.c.segment).where(S.c.mpn_id.in_(ids)),
    )
    for mpn_id, kind, value in (await session.execute(side)).all():
        lists[mpn_id][kind].append(value)
    out: list[Candidate] = []
    for r in rows:
        got = lists[r.mpn_id]
        profile = PartnerProfile(
            mpn_id=r.mpn_id,
            name=r.name,
            referral_contact=r.referral_contact,
            referral_ready=bool(r.referral_ready),
            benefit_referrals=bool(r.benefit_referrals),
            fasttrack_ready=bool(r.fasttrack_ready),
            workloads=sorted(got["w"]),
            languages=sorted(got["l"]),
            segments=sorted(got["s"]),
            min_seats=r.min_seats,
            max_seats=r.max_seats,
            home_country=r.home_country,
            countries=sorted(c for c in got["c"] if c != r.home_country),
            timezone=r.timezone,
            paused_until=_as_date(r.paused_until),
            max_open_referrals=r.max_open_referrals,
        )
        load = PartnerLoad(
            mpn_id=r.mpn_id,
            open_assignments=r.open_assignments,
            last_assigned_at=_utc(r.last_assigned_at),
            capacity_declines=r.capacity_declines,
        )
        out.append((profile, load))
    return out


async def load_partner(session: AsyncSession, mpn_id: str) -> Candidate | None:
    rows = (await session.execute(select(*_PARTNER_COLUMNS).where(P.c.mpn_id == mpn_id))).all()
    found = await load_partners(session, rows)
    return found[0] if found else None


# ---------------------------------------------------------------------------------------
# Pre-filter and explanation counts
# ---------------------------------------------------------------------------------------


async def directory_size(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(P))).scalar_one())


def _candidates_query(
    request: MatchRequest, dialect: str, *, for_split: bool, limit: int | None
) -> Select[Any]:
    conditions = [cond for _, cond in sql_criteria(request, for_split=for_split)]
    order = _rank_order(dialect)
    if not for_split:
        query = select(*_PARTNER_COLUMNS).where(*conditions).order_by(*order)
        return query.limit(limit) if limit is not None else query
    # Split mode: the best-ranked partner per endorsement set (endorsed ∩ requested).
    ws = requested_workloads(request)
    bit = case(*((W.c.workload == w, 1 << i) for i, w in enumerate(ws)), else_=0)
    masks = (
        select(W.c.mpn_id, func.sum(bit).label("mask"))
        .where(W.c.workload.in_(ws))
        .group_by(W.c.mpn_id)
        .subquery("masks")
    )
    ranked = (
        select(
            *_PARTNER_COLUMNS,
            func.row_number().over(partition_by=masks.c.mask, order_by=order).label("rn"),
        )
        .join_from(P, masks, masks.c.mpn_id == P.c.mpn_id)
        .where(*conditions)
        .subquery("ranked")
    )
    return select(*(ranked.c[c.name] for c in _PARTNER_COLUMNS)).where(ranked.c.rn == 1)


async def find_candidates(
    session: AsyncSession,
    request: MatchRequest,
    *,
    for_split: bool,
    limit: int | None = None,
) -> tuple[int, list[Candidate]]:
    """(directory size, pre-filtered partners).

    Single-partner mode (`for_split=False`): the partners passing every criterion, best
    ranked first (`limit` keeps only the first few: `evaluate` needs just the winner).
    Split mode: partners passing every criterion except that they need only one of the
    requested workloads, reduced to the best-ranked partner per endorsement set, which is
    all the split planner looks at (`domain.matching.split_pool`). `limit` is ignored.
    """
    size = await directory_size(session)
    return size, await _select_candidates(session, request, for_split=for_split, limit=limit)


async def _select_candidates(
    session: AsyncSession, request: MatchRequest, *, for_split: bool, limit: int | None
) -> list[Candidate]:
    query = _candidates_query(
        request, _dialect(session), for_split=for_split, limit=None if for_split else limit
    )
    rows = (await session.execute(query)).all()
    return await load_partners(session, rows)


async def explain_counts(session: AsyncSession, request: MatchRequest) -> MatchExplanation:
    """`candidates`, `removed` and `eligible` exactly as `evaluate` on the whole directory:
    each partner is classified by the first criterion (in order) it fails."""
    criteria = sql_criteria(request)
    stage = case(
        *((not_(cond), index) for index, (_, cond) in enumerate(criteria, start=1)),
        else_=0,
    ).label("stage")
    inner = select(stage).select_from(P).subquery("staged")
    query = select(inner.c.stage, func.count()).group_by(inner.c.stage)
    counts = {int(s): int(n) for s, n in (await session.execute(query)).all()}
    return MatchExplanation(
        candidates=sum(counts.values()),
        removed={name: counts.get(i, 0) for i, name in enumerate(CRITERION_NAMES, start=1)},
        eligible=counts.get(0, 0),
    )


async def match(session: AsyncSession, request: MatchRequest) -> MatchResult:
    """find_candidates → evaluate, with the explanation counts of the whole directory."""
    cpor = request.referral.cpor_partner
    extra: list[Candidate] = []
    if cpor:
        found = await load_partner(session, cpor)
        extra = [found] if found else []
    best = await _select_candidates(session, request, for_split=False, limit=1)
    result = evaluate(_merge(best, extra), request)
    if result.partner is None:
        pool = await _select_candidates(session, request, for_split=True, limit=None)
        result = evaluate(_merge(pool, extra), request)
    counts = await explain_counts(session, request)
    result.explanation.candidates = counts.candidates
    result.explanation.removed = counts.removed
    result.explanation.eligible = counts.eligible
    return result


def _merge(first: list[Candidate], extra: list[Candidate]) -> list[Candidate]:
    seen = {p.mpn_id for p, _ in first}
    return first + [c for c in extra if c[0].mpn_id not in seen]


# ---------------------------------------------------------------------------------------
# Reservation
# ---------------------------------------------------------------------------------------


def _explanation_from_json(data: dict[str, Any] | None) -> MatchExplanation:
    names = {f.name for f in fields(MatchExplanation)}
    return MatchExplanation(**{k: v for k, v in (data or {}).items() if k in names})


async def existing_reservation(session: AsyncSession, request: MatchRequest) -> MatchResult | None:
    """The result already recorded for (scope, attempt), if any."""
    row = (
        await session.execute(
            select(A.c.partner_id, A.c.explanation).where(
                A.c.workflow_id == request.scope_id, A.c.seq == request.attempt
            )
        )
    ).first()
    if row is None:
        return None
    found = await load_partner(session, row.partner_id)
    contact = (
        partner_contact(*found)
        if found
        else PartnerContact(
            mpn_id=row.partner_id, name="", referral_contact="", timezone="UTC", country=""
        )
    )
    return MatchResult(partner=contact, explanation=_explanation_from_json(row.explanation))


def _insert_assignment(dialect: str, values: dict[str, Any]) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(A).values(**values).on_conflict_do_nothing(index_elements=["workflow_id", "seq"])


async def reserve(
    session: AsyncSession, request: MatchRequest, result: MatchResult, now: datetime
) -> MatchResult:
    """Record the assignment (scope_id, attempt) and take one of the partner's slots.

    Idempotent: when that assignment already exists, returns the result naming its partner.
    Raises `SlotTaken` when the partner has no free slot left; the caller must then roll the
    transaction back (the assignment row was inserted first) and match again. Writes first,
    so SQLite takes its write lock at the first statement.
    """
    if result.partner is None:
        raise ValueError("nothing to reserve: the result names no partner")
    now = _utc(now) or now
    mpn_id = result.partner.mpn_id
    inserted = await session.execute(
        _insert_assignment(
            _dialect(session),
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
    )
    if getattr(inserted, "rowcount", 1) == 0:
        existing = await existing_reservation(session, request)
        if existing is None:
            raise MatchConflict(f"assignment {request.scope_id} #{request.attempt} vanished")
        return existing
    taken = await session.execute(
        update(P)
        .where(
            P.c.mpn_id == mpn_id,
            or_(
                P.c.max_open_referrals.is_(None),
                P.c.open_assignments < P.c.max_open_referrals,
            ),
        )
        .values(open_assignments=P.c.open_assignments + 1, last_assigned_at=now)
    )
    if getattr(taken, "rowcount", 0) != 1:
        raise SlotTaken(mpn_id)
    return result


def _is_lock_error(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text or "deadlock" in text


async def match_and_reserve(
    sessionmaker: async_sessionmaker[AsyncSession], request: MatchRequest, now: datetime
) -> MatchResult:
    """Match and, when a partner is chosen, reserve it; retry-safe and race-safe.

    Returns the recorded result when (scope_id, attempt) was already assigned. A split or an
    escalation result (no partner) is returned without writing anything. Raises
    `MatchConflict` after `MAX_RESERVE_ATTEMPTS` lost races.
    """
    for attempt in range(MAX_RESERVE_ATTEMPTS):
        async with sessionmaker() as session:
            existing = await existing_reservation(session, request)
            if existing is not None:
                return existing
            result = await match(session, request)
            await session.rollback()
        if result.partner is None:
            return result
        try:
            async with sessionmaker() as session, session.begin():
                return await reserve(session, request, result, now)
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
