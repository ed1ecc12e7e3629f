"""The directory index: per process and engine, bitsets over the partner directory (one per
attribute value) kept in sync by change tick. A criterion is an AND and its removal count a
popcount, which the matching latency target needs; `domain.matching` is its test oracle."""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from db.candidates.rows import INDEX_COLUMNS, P, as_date, connection_of, side_lists, utc
from domain.matching import (
    COMMERCIAL,
    CRITERION_NAMES,
    RankKey,
    as_utc,
    load_rank_key,
    requested_workloads,
)
from domain.models import MatchExplanation, MatchRequest, PartnerLoad, TrackRecord
from domain.pauses import pause_ends_at
from domain.track_record import ROTATION_ONLY, Ranking, RankingTerms, average_of, judged, record_of

REBUILD_ABOVE = 5000  # changed partners above which a refresh rereads the whole directory

_CHANGED_SINCE = select(*INDEX_COLUMNS).where(P.c.change_tick > bindparam("b_seen"))

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
    pause_ends: datetime | None  # `domain.pauses.pause_ends_at` of its paused_until
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
        if self.pause_ends is not None:
            out.add(("paused", self.pause_ends))
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
        pause_ends=_pause_ends(row),
        home_country=row.home_country,
        min_seats=row.min_seats,
        max_seats=row.max_seats,
        workloads=intern(side.get("w", ())),
        languages=intern(side.get("l", ())),
        countries=intern(side.get("c", ())),
        segments=intern(side.get("s", ())),
    )


def _pause_ends(row: Any) -> datetime | None:
    until = as_date(row.paused_until)
    return None if until is None else pause_ends_at(until, row.timezone)


def _is_full(row: Any) -> bool:
    cap = row.max_open_referrals
    return cap is not None and row.open_assignments >= cap


_EMPTY = TrackRecord()  # shared by the partners without a record (never mutated)


class _Load(NamedTuple):
    """What a partner's rank key is made of, besides its MPN ID."""

    open_assignments: int
    last_assigned_at: Any
    record: TrackRecord

    @classmethod
    def of(cls, row: Any) -> _Load:
        record = record_of(row.track_record) if row.track_record else _EMPTY
        return cls(row.open_assignments, utc(row.last_assigned_at), record)

    def key(self, mpn_id: str, ranking: Ranking) -> RankKey:
        load = PartnerLoad(mpn_id, self.open_assignments, self.last_assigned_at, 0, self.record)
        return load_rank_key(mpn_id, None, load, ranking)


class DirectoryIndex:
    """Bitsets over the partner directory (bit i = partner `ids[i]`), synced by change tick."""

    def __init__(self) -> None:
        self.tick = -1  # highest change tick applied (-1: never loaded)
        self.ids: list[str] = []
        self.pos: dict[str, int] = {}
        self.entries: list[_Entry] = []
        self.loads: list[_Load] = []
        self.keys: list[RankKey] = []  # rank keys under `self.keyed_for`, but for `stale`
        self.keyed_for: Ranking = ROTATION_ONLY
        self.stale = 0  # positions whose key is still under an earlier ranking
        self.completed = 0  # the directory's completed offers, for the program's average
        self.judged = 0  # and its judged offers
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
        rows = connection_of(session).execute(_CHANGED_SINCE, {"b_seen": seen}).all()
        if not rows:
            return
        if len(rows) > REBUILD_ABOVE:
            self._rebuild(session)
            return
        # Side rows change only with the profile (import): read them for those partners.
        reread = [r.mpn_id for r in rows if r.profile_tick > seen or r.mpn_id not in self.pos]
        sides = side_lists(session, reread) if reread else {}
        fresh = set(reread)
        for row in rows:
            self.apply(row, sides.get(row.mpn_id, {}) if row.mpn_id in fresh else None)
        self.tick = max(self.tick, *(r.change_tick for r in rows))

    def _rebuild(self, session: Session) -> None:
        rows = session.execute(select(*INDEX_COLUMNS).order_by(P.c.mpn_id)).all()
        fresh = DirectoryIndex.build(rows, side_lists(session, None))
        self.__dict__.update(fresh.__dict__)  # swap in one step

    @classmethod
    def build(cls, rows: Sequence[Any], sides: dict[str, dict[str, list[str]]]) -> DirectoryIndex:
        """An index of partner `rows` (with the `INDEX_COLUMNS` fields) and their side lists
        (as `side_lists` returns them)."""
        fresh = cls()
        fresh.ids = [r.mpn_id for r in rows]
        fresh.pos = {mpn_id: i for i, mpn_id in enumerate(fresh.ids)}
        fresh.entries = [_entry(r, sides.get(r.mpn_id, {}), fresh._intern) for r in rows]
        fresh.loads = [_Load.of(r) for r in rows]
        fresh.keys = [
            load.key(r.mpn_id, ROTATION_ONLY) for load, r in zip(fresh.loads, rows, strict=True)
        ]
        fresh.completed = sum(load.record.completed for load in fresh.loads)
        fresh.judged = sum(judged(load.record) for load in fresh.loads)
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
        return fresh

    def apply(self, row: Any, side: dict[str, list[str]] | None) -> None:
        """Apply a changed partner row (`INDEX_COLUMNS` fields); `side` None: its side rows
        did not change."""
        pos = self.pos.get(row.mpn_id)
        old: _Entry | None = None
        if pos is None:
            pos = len(self.ids)
            self.ids.append(row.mpn_id)
            self.pos[row.mpn_id] = pos
            self.loads.append(_Load(0, None, _EMPTY))
            self.keys.append(self.loads[pos].key(row.mpn_id, self.keyed_for))
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
        load, was = _Load.of(row), self.loads[pos].record
        self.completed += load.record.completed - was.completed
        self.judged += judged(load.record) - judged(was)
        self.loads[pos] = load
        self.keys[pos] = load.key(row.mpn_id, self.keyed_for)
        self.stale &= ~bit
        self.ticks[pos] = row.change_tick

    # -- criteria -----------------------------------------------------------------------

    def _value(self, kind: str, value: Any) -> int:
        return self.bits.get(kind, {}).get(value, 0)

    def _not_paused(self, as_of: datetime) -> int:
        paused = self.bits.get("paused", {})
        ended = sum(1 for ends in paused if ends <= as_of)  # the cache key: pauses over
        key = ("not_paused", ended)
        if key not in self._derived:
            if len(self._derived) > 512:
                self._derived.clear()
            self._derived[key] = self.all & ~_or(b for e, b in paused.items() if e > as_of)
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
            self._not_paused(as_utc(request.as_of)),  # not_paused
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

    # -- ranking ------------------------------------------------------------------------

    def ranking(self, terms: RankingTerms) -> Ranking:
        """`terms` with the program's average over the whole directory (as
        `domain.track_record.program_average` of every partner's record)."""
        if terms.mode == "rotation":
            return Ranking(terms)
        return Ranking(terms, average_of(self.completed, self.judged))

    def rank_keys(self, ranking: Ranking, bits: int) -> list[RankKey]:
        """The rank keys under `ranking`, current for the partners in `bits`. Kept up to date
        by `apply`; when the ranking changes (the program's average moves in steps of 0.01)
        they are recomputed as partners are ranked, not all at once."""
        if ranking != self.keyed_for:
            self.keyed_for, self.stale = ranking, self.all
        if bits & self.stale:
            for p in _positions(bits & self.stale):
                self.keys[p] = self.loads[p].key(self.ids[p], ranking)
            self.stale &= ~bits
        return self.keys

    def ranked(
        self, bits: int, limit: int | None = None, ranking: Ranking = ROTATION_ONLY
    ) -> list[str]:
        """MPN IDs of the partners in `bits`, best ranked first."""
        keys = self.rank_keys(ranking, bits)
        positions = _positions(bits)
        if limit in (1, 2) and positions:  # min is C-level: far cheaper than a sort
            first = min(positions, key=keys.__getitem__)
            if limit == 1 or len(positions) == 1:
                return [self.ids[first]]
            second = min((p for p in positions if p != first), key=keys.__getitem__)
            return [self.ids[first], self.ids[second]]
        positions.sort(key=keys.__getitem__)
        return [self.ids[p] for p in positions]

    def split_pool(self, request: MatchRequest, ranking: Ranking = ROTATION_ONLY) -> list[str]:
        """`domain.matching.split_pool`: the best-ranked partner per endorsement set among
        the partners passing every criterion but needing only one requested workload."""
        alive = self.all
        for passing in self.criteria(request, for_split=True):
            alive &= passing
        order = requested_workloads(request)
        keys = self.rank_keys(ranking, alive)
        best: dict[int, int] = {}
        for p in _positions(alive):
            endorsed = self.entries[p].workloads
            mask = sum(1 << i for i, w in enumerate(order) if w in endorsed)
            kept = best.get(mask)
            if kept is None or keys[p] < keys[kept]:
                best[mask] = p
        return [self.ids[p] for p in sorted(best.values(), key=keys.__getitem__)]

    def tick_of(self, mpn_id: str) -> int | None:
        pos = self.pos.get(mpn_id)
        return None if pos is None else self.ticks[pos]

    def side_of(self, mpn_id: str) -> dict[str, list[str]]:
        return self.entries[self.pos[mpn_id]].side()


_INDEXES: weakref.WeakKeyDictionary[Any, DirectoryIndex] = weakref.WeakKeyDictionary()


def index_of(session: Session) -> DirectoryIndex:
    """This process's index of the session's engine, refreshed. One index per engine, used on
    one thread: on SQLite the writer thread's engine (`db.transactions`) has its own."""
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
