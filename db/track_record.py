"""The partners' track records: monthly counters per partner (`partner_record_months`, by
the month the offer was made) and their sum over the ranking window on the partner row
(`partners.track_record`), updated as outcomes happen, in the transaction that records them.
The rules (which change counts as what, the score) are `domain.track_record`'s."""

from __future__ import annotations

import typing
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from db.directory_tick import bump_tick
from db.models import AssignmentRecord, Partner, PartnerRecordMonth
from db.report_figures import accepted_at_column, aware
from db.transactions import insert_ignore, run_write
from domain import track_record as tr
from domain.models import Assignment, HistoryEntry, ReferralState, TrackRecord

M = typing.cast(Table, PartnerRecordMonth.__table__)
PT = typing.cast(Table, Partner.__table__)
A = typing.cast(Table, AssignmentRecord.__table__)

# (partner, month of the offer) -> counter increments
Changes = dict[tuple[str, date], dict[str, int]]

_MONTH_FOR_UPDATE = (
    select(M.c.counts)
    .where(M.c.mpn_id == bindparam("b_mpn_id"), M.c.month == bindparam("b_month"))
    .with_for_update()
)
_SET_MONTH = (
    update(M)
    .where(M.c.mpn_id == bindparam("b_mpn_id"), M.c.month == bindparam("b_month"))
    .values(counts=bindparam("b_counts"))
)
_WINDOW = select(M.c.month, M.c.counts).where(
    M.c.mpn_id == bindparam("b_mpn_id"), M.c.month >= bindparam("b_since")
)
_SET_PARTNER = (
    update(PT)
    .where(PT.c.mpn_id == bindparam("b_mpn_id"))
    .values(track_record=bindparam("b_record"), change_tick=bindparam("b_tick"))
)


def month_of(at: datetime) -> date:
    return at.date().replace(day=1)


def assignment_changes(
    changes: Changes, a: Assignment, before: str | None, vas_sold: bool = False
) -> None:
    """Add what an assignment's change (outcome `before` -> now; None: a new assignment)
    means for its partner's record."""
    found = tr.offer_changes(before, a.outcome, a.reason, a.accepted_at is not None, vas_sold)
    if found:
        _merge(changes, (a.partner, month_of(a.assigned_at)), found)


def milestone_changes(
    changes: Changes, state: ReferralState, entries: Iterable[HistoryEntry]
) -> None:
    """What newly recorded milestones mean for the current partner's record: customer contact
    within its window, the account team contacted before the kick-off."""
    a = state.current
    if a is None:
        return
    m = state.milestones
    key = (a.partner, month_of(a.assigned_at))
    for entry in entries:
        if entry.refused or entry.actor != f"partner:{a.partner}":
            continue
        if entry.action == "contacted" and (
            m.contact_due_at is None or entry.at <= m.contact_due_at
        ):
            _merge(changes, key, {"contacted_in_time": 1})
        elif entry.action == "account_team_contacted" and tr.account_team_first(
            entry.at, m.kickoff_at
        ):
            _merge(changes, key, {"account_team_first": 1})


def apply_changes(session: Session, changes: Changes, as_of: datetime, window_days: int) -> None:
    """Add `changes` to the monthly counters and write each changed partner's window sum on
    its row (with a new directory change tick, so that matching indexes see it). Lock order:
    the tick counter, the month rows (sorted), the partner rows."""
    if not changes:
        return
    conn = session.connection()
    tick = bump_tick(conn)
    for (mpn_id, month), delta in sorted(changes.items()):
        insert_ignore(session, PartnerRecordMonth, {"mpn_id": mpn_id, "month": month, "counts": {}})
        params = {"b_mpn_id": mpn_id, "b_month": month}
        counts = dict(conn.execute(_MONTH_FOR_UPDATE, params).scalar_one() or {})
        for name, n in delta.items():
            counts[name] = int(counts.get(name, 0)) + n
        conn.execute(_SET_MONTH, {**params, "b_counts": counts})
    for mpn_id in sorted({mpn_id for mpn_id, _ in changes}):
        record = window_record(session, mpn_id, as_of.date(), window_days)
        conn.execute(_SET_PARTNER, {"b_mpn_id": mpn_id, "b_record": asdict(record), "b_tick": tick})


def window_record(session: Session, mpn_id: str, as_of: date, window_days: int) -> TrackRecord:
    """The partner's record over the window ending `as_of`, from its monthly counters."""
    since = tr.window_start(as_of, window_days)
    rows = session.connection().execute(_WINDOW, {"b_mpn_id": mpn_id, "b_since": since})
    return tr.summed(((_as_date(r.month), dict(r.counts or {})) for r in rows), as_of)


def refresh_records(session: Session, as_of: datetime, window_days: int) -> list[str]:
    """Re-sum every partner's window (months leave it, engagements become old enough to
    judge): the weekly job's work. Returns the partners whose record changed."""
    changed: list[str] = []
    rows = session.connection().execute(select(PT.c.mpn_id, PT.c.track_record)).all()
    updates: list[tuple[str, dict[str, Any]]] = []
    for row in rows:
        fresh = asdict(window_record(session, row.mpn_id, as_of.date(), window_days))
        if fresh != asdict(tr.record_of(row.track_record)):
            updates.append((row.mpn_id, fresh))
    if updates:
        tick = bump_tick(session.connection())
        for mpn_id, fresh in updates:
            session.connection().execute(
                _SET_PARTNER, {"b_mpn_id": mpn_id, "b_record": fresh, "b_tick": tick}
            )
            changed.append(mpn_id)
    return changed


def records(session: Session, ids: Sequence[str] | None = None) -> dict[str, TrackRecord]:
    """The stored window records (of `ids`, or of every partner)."""
    stmt = select(PT.c.mpn_id, PT.c.track_record)
    if ids is not None:
        stmt = stmt.where(PT.c.mpn_id.in_(list(ids)))
    return {r.mpn_id: tr.record_of(r.track_record) for r in session.connection().execute(stmt)}


def _merge(changes: Changes, key: tuple[str, date], delta: dict[str, int]) -> None:
    into = changes.setdefault(key, {})
    for name, n in delta.items():
        into[name] = into.get(name, 0) + n


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


_NAMED = select(PT.c.mpn_id, PT.c.name, PT.c.track_record).order_by(PT.c.mpn_id)


async def scorecards(
    sessions: async_sessionmaker[AsyncSession], terms: tr.RankingTerms
) -> tuple[tr.Ranking, list[tuple[str, str, TrackRecord]]]:
    """Every partner's (MPN ID, name, record), and the ranking with the program's average."""
    async with sessions() as session:
        rows = (await session.execute(_NAMED)).all()
    found = [(r.mpn_id, r.name, tr.record_of(r.track_record)) for r in rows]
    average = tr.program_average(record for _, _, record in found)
    return tr.Ranking(terms, average), found


_DECIDED_SINCE = select(
    A.c.partner_id, A.c.outcome, A.c.reason, accepted_at_column().label("accepted_at")
).where(A.c.decided_at >= bindparam("b_since"), A.c.decided_at < bindparam("b_until"))


async def floor_crossings(
    sessions: async_sessionmaker[AsyncSession],
    since: datetime,
    until: datetime,
    terms: tr.RankingTerms,
) -> list[tr.ScoreCard]:
    """The partners below the floor now that were not before `since`: their record at `since`
    is today's without the offers decided in between. The windows are re-summed first (months
    leave them, engagements become old enough to judge): this is the weekly job's work."""
    window = max(1, terms.window_days)

    def work(session: Session) -> None:
        refresh_records(session, until, window)

    await run_write(sessions, work)
    ranking, found = await scorecards(sessions, terms)
    async with sessions() as session:
        decided = await session.execute(_DECIDED_SINCE, {"b_since": since, "b_until": until})
        week: dict[str, TrackRecord] = {}
        for row in decided.all():
            accepted_at = aware(row.accepted_at) if row.accepted_at is not None else None
            # accepted before the week: only the move from "accepted" happened in it
            was = "accepted" if accepted_at is not None and accepted_at < since else "pending"
            changes = tr.offer_changes(was, row.outcome, row.reason, accepted_at is not None)
            week[row.partner_id] = tr.add(week.get(row.partner_id, TrackRecord()), changes)
    out = []
    for mpn_id, _, record in found:
        if mpn_id not in week or not tr.below_floor(record, ranking):
            continue
        before = tr.add(record, {k: -v for k, v in asdict(week[mpn_id]).items()})
        if not tr.below_floor(before, ranking):
            out.append(tr.scorecard(mpn_id, record, ranking))
    return out
