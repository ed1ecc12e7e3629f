"""Matching against the partner directory: an in-memory directory index kept in sync with
the database, exact explanation counts, and a race-safe, idempotent reservation of the
chosen partner.

A match (`match`) runs in three steps:

1. `DirectoryIndex.refresh`: the partner rows changed since the last refresh
   (`partners.change_tick` above the highest tick seen; an indexed range read, normally
   empty) are read and applied (their side rows only after an import). Every transaction
   that changes a partner row (import, pause / resume, load bookkeeping) first takes the
   next tick from `directory_state` (`bump_tick`): the counter row stays locked until
   commit, so ticks commit in order and the rows above the last tick seen are exactly the
   changes committed since.
2. The criteria of `domain.matching.CRITERIA` (same names, same order) as bitsets, one bit
   per partner (Python ints): per attribute value the partners having it, plus the live
   "at capacity" set. Each criterion is one AND; the number of partners it removed is a
   popcount of the running intersection, so the explanation counts are those of the whole
   directory (each partner classified by the first criterion it fails) without reading it.
3. The best-ranked eligible partner (`domain.matching.load_rank_key` over the eligible bits
   only) is loaded by primary key, checked against the index (same change tick, otherwise
   refresh and choose again) and the pure `evaluate` decides (CPOR rule, split planning).

The index is per engine and per process; it costs one full read of the directory when first
used (a few seconds for 100,000 partners, about 50 MB) and a few microseconds per changed partner
after that. Portable between SQLite and PostgreSQL. Datetimes are written in UTC; naive
values read back (SQLite) are taken as UTC.
"""

from __future__ import annotations

import asyncio
import functools
import re
import typing
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import asdict, fields
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    literal,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from db.models import (
    AssignmentRecord,
    DirectoryState,
    Partner,
    PartnerCountry,
    PartnerLanguage,
    PartnerSegment,
    PartnerWorkload,
)
from db.transactions import dialect_insert, run_write
from domain.matching import (
    COMMERCIAL,
    CRITERION_NAMES,
    Candidate,
    RankKey,
    as_of_date,
    evaluate,
    load_rank_key,
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
T = typing.cast(Table, DirectoryState.__table__)

MAX_RESERVE_ATTEMPTS = 8
MAX_STALE_RETRIES = 3  # index refreshes when a chosen partner changed under the match
REBUILD_ABOVE = 5000  # changed partners above which a refresh rereads the whole directory

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
_INDEX_COLUMNS = (
    P.c.mpn_id,
    P.c.referral_ready,
    P.c.benefit_referrals,
    P.c.fasttrack_ready,
    P.c.min_seats,
    P.c.max_seats,
    P.c.home_country,
    P.c.paused_until,
    P.c.max_open_referrals,
    P.c.open_assignments,
    P.c.last_assigned_at,
    P.c.change_tick,
    P.c.profile_tick,
)

# The statements of every match, built once with bound parameters (see `_bump_tick_statement`).
_CHANGED_SINCE = select(*_INDEX_COLUMNS).where(P.c.change_tick > bindparam("b_seen"))
_PARTNER_BY_ID = select(*_PARTNER_COLUMNS).where(P.c.mpn_id == bindparam("b_mpn_id"))
_PARTNERS_BY_IDS = select(*_PARTNER_COLUMNS, P.c.change_tick).where(
    P.c.mpn_id.in_(bindparam("b_ids", expanding=True))
)
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


# ---------------------------------------------------------------------------------------
# Change ticks
# ---------------------------------------------------------------------------------------


def _conn(session: Session | Connection) -> Connection:
    return session if isinstance(session, Connection) else session.connection()


@functools.cache
def _bump_tick_statement(dialect: str) -> Any:
    """Built once per dialect: a statement built per call costs its coercions and a fresh
    cache key (as `db.transactions.insert_ignore`)."""
    return (
        dialect_insert(dialect)(T)
        .values(id=1, tick=1)
        .on_conflict_do_update(index_elements=[T.c.id], set_={"tick": T.c.tick + 1})
        .returning(T.c.tick)
    )


def bump_tick(session: Session | Connection) -> int:
    """Take the next directory change tick, for the partner rows this transaction changes
    (`partners.change_tick`). Call it before changing any partner row: it locks the counter
    row until commit (so ticks commit in order and lock order is always counter → rows)."""
    conn = _conn(session)
    return int(conn.execute(_bump_tick_statement(conn.dialect.name)).scalar_one())


# ---------------------------------------------------------------------------------------
# Directory index
# ---------------------------------------------------------------------------------------

Feature = tuple[str, Any]  # (kind, value): a bitset of the partners having that value
_ONE = re.compile("1")


def _bitset(positions: Iterable[int]) -> int:
    buf = bytearray()
    for p in positions:
        byte = p >> 3
        if byte >= len(buf):
            buf.extend(bytes(byte + 1 - len(buf)))
        buf[byte] |= 1 << (p & 7)
    return int.from_bytes(buf, "little")


def _positions(bits: int) -> list[int]:
    """Set bit positions, ascending."""
    if not bits:
        return []
    return [m.start() for m in _ONE.finditer(format(bits, "b")[::-1])]


def _or(values: Iterable[int]) -> int:
    out = 0
    for v in values:
        out |= v
    return out


class _Entry(NamedTuple):
    """The static (profile) attributes of one partner; its side rows (workloads, languages,
    countries, segments) as sorted tuples, shared between partners (`_Interner`)."""

    referral_ready: bool
    benefit: bool  # fasttrack_ready and benefit_referrals
    paused_until: date | None
    home_country: str
    min_seats: int
    max_seats: int | None
    workloads: tuple[str, ...]
    languages: tuple[str, ...]
    countries: tuple[str, ...]
    segments: tuple[str, ...]

    def features(self) -> set[Feature]:
        """The bitsets holding this partner."""
        out: set[Feature] = {("min", self.min_seats), ("max", self.max_seats)}
        if self.referral_ready:
            out.add(("ready", True))
        if self.benefit:
            out.add(("benefit", True))
        if self.paused_until is not None:
            out.add(("paused", self.paused_until))
        out.add(("c", self.home_country))
        out.update(("w", v) for v in self.workloads)
        out.update(("l", v) for v in self.languages)
        out.update(("c", v) for v in self.countries)
        out.update(("s", v) for v in self.segments)
        return out

    def side(self) -> dict[str, list[str]]:
        return {
            "w": list(self.workloads),
            "l": list(self.languages),
            "c": list(self.countries),
            "s": list(self.segments),
        }


class _Interner:
    def __init__(self) -> None:
        self._seen: dict[tuple[str, ...], tuple[str, ...]] = {}

    def __call__(self, values: Iterable[str]) -> tuple[str, ...]:
        t = tuple(sorted(values))
        return self._seen.setdefault(t, t)


def _entry(row: Any, side: dict[str, list[str]], intern: _Interner) -> _Entry:
    return _Entry(
        referral_ready=bool(row.referral_ready),
        benefit=bool(row.fasttrack_ready and row.benefit_referrals),
        paused_until=_as_date(row.paused_until),
        home_country=row.home_country,
        min_seats=row.min_seats,
        max_seats=row.max_seats,
        workloads=intern(side.get("w", ())),
        languages=intern(side.get("l", ())),
        countries=intern(side.get("c", ())),
        segments=intern(side.get("s", ())),
    )


def _is_full(row: Any) -> bool:
    cap = row.max_open_referrals
    return cap is not None and row.open_assignments >= cap


def _key(row: Any) -> RankKey:
    load = PartnerLoad(
        mpn_id=row.mpn_id,
        open_assignments=row.open_assignments,
        last_assigned_at=_utc(row.last_assigned_at),
    )
    return load_rank_key(row.mpn_id, row.max_open_referrals, load)


class DirectoryIndex:
    """Bitsets over the partner directory (bit i = partner `ids[i]`), synced by change tick."""

    def __init__(self) -> None:
        self.tick = -1  # highest change tick applied (-1: never loaded)
        self.ids: list[str] = []
        self.pos: dict[str, int] = {}
        self.entries: list[_Entry] = []
        self.keys: list[RankKey] = []
        self.ticks: list[int] = []
        self.all = 0
        self.full = 0  # at capacity (live load)
        self.bits: dict[str, dict[Any, int]] = {}
        self._derived: dict[tuple[str, Any], int] = {}  # pause / seats bitsets per value
        self._intern = _Interner()

    # -- sync ---------------------------------------------------------------------------

    def refresh(self, session: Session) -> None:
        """Apply the partner rows changed since the last refresh (all of them the first
        time): one indexed range read, normally empty. Ticks commit in order, so the rows
        seen with a tick above ours are all the changes committed up to the highest one."""
        seen = self.tick
        if seen < 0:
            self._rebuild(session)
            return
        rows = _conn(session).execute(_CHANGED_SINCE, {"b_seen": seen}).all()
        if not rows:
            return
        if len(rows) > REBUILD_ABOVE:
            self._rebuild(session)
            return
        # Side rows change only with the profile (import): read them for those partners.
        reread = [r.mpn_id for r in rows if r.profile_tick > seen or r.mpn_id not in self.pos]
        sides = _side_lists(session, reread) if reread else {}
        fresh = set(reread)
        for row in rows:
            self._apply(row, sides.get(row.mpn_id, {}) if row.mpn_id in fresh else None)
        self.tick = max(self.tick, *(r.change_tick for r in rows))

    def _rebuild(self, session: Session) -> None:
        rows = session.execute(select(*_INDEX_COLUMNS).order_by(P.c.mpn_id)).all()
        sides = _side_lists(session, None)
        fresh = DirectoryIndex()
        fresh.ids = [r.mpn_id for r in rows]
        fresh.pos = {mpn_id: i for i, mpn_id in enumerate(fresh.ids)}
        fresh.entries = [_entry(r, sides.get(r.mpn_id, {}), fresh._intern) for r in rows]
        fresh.keys = [_key(r) for r in rows]
        fresh.ticks = [r.change_tick for r in rows]
        fresh.all = (1 << len(rows)) - 1
        fresh.full = _bitset(i for i, r in enumerate(rows) if _is_full(r))
        members: dict[Feature, list[int]] = {}
        for i, entry in enumerate(fresh.entries):
            for feature in entry.features():
                members.setdefault(feature, []).append(i)
        for (kind, value), positions in members.items():
            fresh.bits.setdefault(kind, {})[value] = _bitset(positions)
        fresh.tick = max((r.change_tick for r in rows), default=0)
        self.__dict__.update(fresh.__dict__)  # swap in one step

    def _apply(self, row: Any, side: dict[str, list[str]] | None) -> None:
        """Apply a changed partner row; `side` None: its side rows did not change."""
        pos = self.pos.get(row.mpn_id)
        old: _Entry | None = None
        if pos is None:
            pos = len(self.ids)
            self.ids.append(row.mpn_id)
            self.pos[row.mpn_id] = pos
            self.keys.append(_key(row))
            self.ticks.append(-1)
            self.all |= 1 << pos
        elif row.change_tick < self.ticks[pos]:
            return  # read before a newer version this index already holds
        else:
            old = self.entries[pos]
        if side is None:
            side = old.side() if old is not None else {}
        new = _entry(row, side, self._intern)
        bit = 1 << pos
        if old is None:
            self.entries.append(new)
        if new != old:
            old_features = old.features() if old is not None else set()
            new_features = new.features()
            for kind, value in old_features - new_features:
                by_value = self.bits[kind]
                by_value[value] &= ~bit
                if not by_value[value]:
                    del by_value[value]
            for kind, value in new_features - old_features:
                by_value = self.bits.setdefault(kind, {})
                by_value[value] = by_value.get(value, 0) | bit
            self.entries[pos] = new
            self._derived.clear()
        self.full = self.full | bit if _is_full(row) else self.full & ~bit
        self.keys[pos] = _key(row)
        self.ticks[pos] = row.change_tick

    # -- criteria -----------------------------------------------------------------------

    def _value(self, kind: str, value: Any) -> int:
        return self.bits.get(kind, {}).get(value, 0)

    def _not_paused(self, as_of: date) -> int:
        key = ("not_paused", as_of)
        if key not in self._derived:
            paused = self.bits.get("paused", {})
            if len(self._derived) > 512:
                self._derived.clear()
            self._derived[key] = self.all & ~_or(b for d, b in paused.items() if d >= as_of)
        return self._derived[key]

    def _seats(self, seats: int) -> int:
        key = ("seats", seats)
        if key not in self._derived:
            low = _or(b for v, b in self.bits.get("min", {}).items() if v <= seats)
            high = _or(b for v, b in self.bits.get("max", {}).items() if v is None or v >= seats)
            if len(self._derived) > 512:
                self._derived.clear()
            self._derived[key] = low & high
        return self._derived[key]

    def criteria(self, request: MatchRequest, *, for_split: bool = False) -> list[int]:
        """One bitset per criterion of `domain.matching.CRITERIA`, in order: the partners
        passing it. `for_split` relaxes `workloads` to "any of the requested"."""
        customer = request.referral.customer
        if request.referral.type == "benefit":
            opt_in = self._value("benefit", True)
        else:
            opt_in = self._value("ready", True)
        if for_split:
            workloads = _or(self._value("w", w) for w in requested_workloads(request))
        else:
            workloads = self.all
            for w in set(request.workloads):
                workloads &= self._value("w", w)
        excluded = _bitset(self.pos[m] for m in set(request.excluded) if m in self.pos)
        segment = self.all
        if customer.segment != COMMERCIAL:
            segment = self._value("s", customer.segment)
        return [
            opt_in,  # type_opt_in
            self._not_paused(as_of_date(request.as_of)),  # not_paused
            workloads,  # workloads
            self._value("l", customer.language),  # language
            segment,  # segment
            self._seats(customer.seats),  # seats
            self._value("c", customer.country),  # country
            self.all & ~excluded,  # not_excluded
            self.all & ~self.full,  # capacity
        ]

    def explain(self, request: MatchRequest) -> tuple[MatchExplanation, int]:
        """The explanation counts over the whole directory, and the eligible partners."""
        alive = self.all
        removed: dict[str, int] = {}
        for name, passing in zip(CRITERION_NAMES, self.criteria(request), strict=True):
            kept = alive & passing
            removed[name] = alive.bit_count() - kept.bit_count()
            alive = kept
        explanation = MatchExplanation(
            candidates=len(self.ids), removed=removed, eligible=alive.bit_count()
        )
        return explanation, alive

    def ranked(self, bits: int, limit: int | None = None) -> list[str]:
        """MPN IDs of the partners in `bits`, best ranked first."""
        positions = _positions(bits)
        if limit == 1 and positions:
            return [self.ids[min(positions, key=self.keys.__getitem__)]]
        positions.sort(key=self.keys.__getitem__)
        return [self.ids[p] for p in positions[:limit]]

    def split_pool(self, request: MatchRequest) -> list[str]:
        """`domain.matching.split_pool`: the best-ranked partner per endorsement set among
        the partners passing every criterion but needing only one requested workload."""
        alive = self.all
        for passing in self.criteria(request, for_split=True):
            alive &= passing
        order = requested_workloads(request)
        best: dict[int, int] = {}
        for p in _positions(alive):
            endorsed = self.entries[p].workloads
            mask = sum(1 << i for i, w in enumerate(order) if w in endorsed)
            kept = best.get(mask)
            if kept is None or self.keys[p] < self.keys[kept]:
                best[mask] = p
        return [self.ids[p] for p in sorted(best.values(), key=self.keys.__getitem__)]

    def tick_of(self, mpn_id: str) -> int | None:
        pos = self.pos.get(mpn_id)
        return None if pos is None else self.ticks[pos]

    def side_of(self, mpn_id: str) -> dict[str, list[str]]:
        return self.entries[self.pos[mpn_id]].side()


_INDEXES: weakref.WeakKeyDictionary[Any, DirectoryIndex] = weakref.WeakKeyDictionary()


def index_of(session: Session) -> DirectoryIndex:
    """This process's index of the session's engine, refreshed."""
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    index = _INDEXES.get(engine)
    if index is None:
        index = _INDEXES.setdefault(engine, DirectoryIndex())
    index.refresh(session)
    return index


async def directory_index(session: AsyncSession) -> DirectoryIndex:
    """`index_of` through an async session."""
    return await session.run_sync(index_of)


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


def _side_lists(session: Session, ids: Sequence[str] | None) -> dict[str, dict[str, list[str]]]:
    """Workloads ("w"), languages ("l"), countries ("c") and segments ("s") per partner,
    of `ids` or (None) of every partner."""

    def where(table: Table) -> Any:
        return table.c.mpn_id.in_(ids) if ids is not None else true()

    side = union_all(
        select(W.c.mpn_id, literal("w").label("k"), W.c.workload.label("v")).where(where(W)),
        select(L.c.mpn_id, literal("l"), L.c.language).where(where(L)),
        select(C.c.mpn_id, literal("c"), C.c.country).where(where(C)),
        select(S.c.mpn_id, literal("s"), S.c.segment).where(where(S)),
    )
    lists: dict[str, dict[str, list[str]]] = {}
    for mpn_id, kind, value in session.execute(side):
        lists.setdefault(mpn_id, {}).setdefault(kind, []).append(value)
    return lists


def _candidate(r: Any, side: dict[str, list[str]]) -> Candidate:
    """A partner row (selected with the partner columns) and its side rows as domain objects."""
    profile = PartnerProfile(
        mpn_id=r.mpn_id,
        name=r.name,
        referral_contact=r.referral_contact,
        referral_ready=bool(r.referral_ready),
        benefit_referrals=bool(r.benefit_referrals),
        fasttrack_ready=bool(r.fasttrack_ready),
        workloads=sorted(side.get("w", [])),
        languages=sorted(side.get("l", [])),
        segments=sorted(side.get("s", [])),
        min_seats=r.min_seats,
        max_seats=r.max_seats,
        home_country=r.home_country,
        countries=sorted(c for c in side.get("c", []) if c != r.home_country),
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
    return profile, load


def load_partners(session: Session, rows: Sequence[Any]) -> list[Candidate]:
    """Profiles and loads for partner rows (selected with the partner columns), in order."""
    if not rows:
        return []
    lists = _side_lists(session, [r.mpn_id for r in rows])
    return [_candidate(r, lists.get(r.mpn_id, {})) for r in rows]


def load_partner(session: Session, mpn_id: str) -> Candidate | None:
    rows = _conn(session).execute(_PARTNER_BY_ID, {"b_mpn_id": mpn_id}).all()
    found = load_partners(session, rows)
    return found[0] if found else None


def _load_indexed(
    session: Session, index: DirectoryIndex, ids: list[str], cpor: str | None = None
) -> tuple[list[Candidate], list[Candidate]] | None:
    """The partners `ids` (in that order) and the CPOR partner (if any, and in the
    directory) as stored now, in one query; None when one of `ids` changed after the index
    last saw it (refresh the index and choose again). Side rows come from the index when it
    holds the row's version, else from the database."""
    wanted = list(dict.fromkeys([*ids, *([cpor] if cpor else [])]))
    if not wanted:
        return [], []
    by_id = {r.mpn_id: r for r in _conn(session).execute(_PARTNERS_BY_IDS, {"b_ids": wanted})}
    for mpn_id in ids:
        row, seen = by_id.get(mpn_id), index.tick_of(mpn_id)
        if row is None or seen is None or row.change_tick > seen:
            return None
    # Versions the index does not hold: the CPOR partner, or rows of a snapshot older
    # than the index (SQLite, when another session refreshed it meanwhile).
    other = [m for m, r in by_id.items() if index.tick_of(m) != r.change_tick]
    sides = _side_lists(session, other) if other else {}

    def candidate(mpn_id: str) -> Candidate:
        side = sides.get(mpn_id, {}) if mpn_id in other else index.side_of(mpn_id)
        return _candidate(by_id[mpn_id], side)

    extra = [candidate(cpor)] if cpor and cpor in by_id else []
    return [candidate(m) for m in ids], extra


# ---------------------------------------------------------------------------------------
# Pre-filter and explanation counts
# ---------------------------------------------------------------------------------------


def _find_candidates(
    session: Session, request: MatchRequest, for_split: bool, limit: int | None
) -> tuple[int, list[Candidate]]:
    for _ in range(MAX_STALE_RETRIES):
        index = index_of(session)
        if for_split:
            ids = index.split_pool(request)
        else:
            ids = index.ranked(index.explain(request)[1], limit)
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
) -> tuple[int, list[Candidate]]:
    """(directory size, pre-filtered partners).

    Single-partner mode (`for_split=False`): the partners passing every criterion, best
    ranked first (`limit` keeps only the first few: `evaluate` needs just the winner).
    Split mode: partners passing every criterion except that they need only one of the
    requested workloads, reduced to the best-ranked partner per endorsement set, which is
    all the split planner looks at (`domain.matching.split_pool`). `limit` is ignored.
    """
    return await session.run_sync(_find_candidates, request, for_split, limit)


async def explain_counts(session: AsyncSession, request: MatchRequest) -> MatchExplanation:
    """`candidates`, `removed` and `eligible` exactly as `evaluate` on the whole directory:
    each partner is classified by the first criterion (in order) it fails."""
    index = await directory_index(session)
    return index.explain(request)[0]


async def match(session: AsyncSession, request: MatchRequest) -> MatchResult:
    """`match_in` through an async session (reads only)."""
    return await session.run_sync(match_in, request)


def match_in(session: Session, request: MatchRequest) -> MatchResult:
    """Index pre-filter → evaluate, with the explanation counts of the whole directory."""
    cpor = request.referral.cpor_partner
    for _ in range(MAX_STALE_RETRIES):
        index = index_of(session)
        counted_at = index.tick
        counts, eligible = index.explain(request)
        loaded = _load_indexed(session, index, index.ranked(eligible, 1), cpor)
        if loaded is None:
            continue
        best, extra = loaded
        result = evaluate(_merge(best, extra), request)
        if result.partner is None:
            # Another match refreshed the index while the partner loaded (it was taken,
            # say): count again, so the explanation describes the state the answer is from.
            if index.tick != counted_at:
                continue
            pool = _load_indexed(session, index, index.split_pool(request))
            if pool is None:
                continue
            result = evaluate(_merge(pool[0], extra), request)
        result.explanation.candidates = counts.candidates
        result.explanation.removed = counts.removed
        result.explanation.eligible = counts.eligible
        return result
    raise MatchConflict(f"the directory kept changing under the match of {request.scope_id}")


def _merge(first: list[Candidate], extra: list[Candidate]) -> list[Candidate]:
    seen = {p.mpn_id for p, _ in first}
    return first + [c for c in extra if c[0].mpn_id not in seen]


# ---------------------------------------------------------------------------------------
# Reservation
# ---------------------------------------------------------------------------------------


def _explanation_from_json(data: dict[str, Any] | None) -> MatchExplanation:
    names = {f.name for f in fields(MatchExplanation)}
    return MatchExplanation(**{k: v for k, v in (data or {}).items() if k in names})


def existing_reservation(session: Session, request: MatchRequest) -> MatchResult | None:
    """The result already recorded for (scope, attempt), if any."""
    row = (
        _conn(session)
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
    session: Session, request: MatchRequest, result: MatchResult, now: datetime
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
    now = _utc(now) or now
    mpn_id = result.partner.mpn_id
    conn = _conn(session)
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
    return result


def _is_lock_error(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text or "deadlock" in text


def _match_and_reserve(session: Session, request: MatchRequest, now: datetime) -> MatchResult:
    """One attempt, in one write transaction (see `match_and_reserve`)."""
    existing = existing_reservation(session, request)
    if existing is not None:
        return existing
    result = match_in(session, request)
    if result.partner is None:
        return result
    if reserve(session, request, result, now) is not None:
        return result
    existing = existing_reservation(session, request)  # recorded by a concurrent attempt
    if existing is None:
        raise MatchConflict(f"assignment {request.scope_id} #{request.attempt} vanished")
    return existing


async def match_and_reserve(
    sessionmaker: async_sessionmaker[AsyncSession], request: MatchRequest, now: datetime
) -> MatchResult:
    """Match and, when a partner is chosen, reserve it; retry-safe and race-safe.

    Returns the recorded result when (scope_id, attempt) was already assigned. A split or an
    escalation result (no partner) is returned without writing anything. Raises
    `MatchConflict` after `MAX_RESERVE_ATTEMPTS` lost races.

    The lookup of an earlier result, the match and the reservation run as one write
    transaction (`db.transactions.run_write`): on SQLite no other writer can take the partner
    in between; on PostgreSQL the conditional `UPDATE` decides a race (`SlotTaken`: match
    again).
    """
    work = functools.partial(_match_and_reserve, request=request, now=now)
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
