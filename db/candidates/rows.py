"""Partner rows: the tables and columns a match reads, the directory change tick every write
to a partner row takes, and the rows as `domain.matching` candidates (profile and load)."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Table, bindparam, literal, select, true, union_all
from sqlalchemy.orm import Session

from db.directory_tick import connection_of
from db.models import (
    AssignmentRecord,
    Partner,
    PartnerCountry,
    PartnerLanguage,
    PartnerSegment,
    PartnerWorkload,
)
from domain.matching import Candidate
from domain.models import PartnerLoad, PartnerProfile
from domain.track_record import record_of

P = typing.cast(Table, Partner.__table__)
W = typing.cast(Table, PartnerWorkload.__table__)
L = typing.cast(Table, PartnerLanguage.__table__)
C = typing.cast(Table, PartnerCountry.__table__)
S = typing.cast(Table, PartnerSegment.__table__)
A = typing.cast(Table, AssignmentRecord.__table__)

PARTNER_COLUMNS = (
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
    P.c.locale,
    P.c.open_assignments,
    P.c.last_assigned_at,
    P.c.capacity_declines,
    P.c.track_record,
)
INDEX_COLUMNS = (
    P.c.mpn_id,
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
    P.c.change_tick,
    P.c.profile_tick,
    P.c.track_record,
)

# Built once with bound parameters, so that their compiled forms are cached.
_PARTNER_BY_ID = select(*PARTNER_COLUMNS).where(P.c.mpn_id == bindparam("b_mpn_id"))
PARTNERS_BY_IDS = select(*PARTNER_COLUMNS, P.c.change_tick).where(
    P.c.mpn_id.in_(bindparam("b_ids", expanding=True))
)


def utc(dt: datetime | None) -> datetime | None:
    """`dt` in UTC; naive values (as SQLite returns them) were written in UTC."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def as_date(value: Any) -> date | None:
    """A stored date (SQLite may return the ISO text)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def side_lists(session: Session, ids: Sequence[str] | None) -> dict[str, dict[str, list[str]]]:
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


def candidate_of(r: Any, side: dict[str, list[str]]) -> Candidate:
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
        paused_until=as_date(r.paused_until),
        max_open_referrals=r.max_open_referrals,
        locale=r.locale,
    )
    load = PartnerLoad(
        mpn_id=r.mpn_id,
        open_assignments=r.open_assignments,
        last_assigned_at=utc(r.last_assigned_at),
        capacity_declines=r.capacity_declines,
        record=record_of(r.track_record),
    )
    return profile, load


def load_partners(session: Session, rows: Sequence[Any]) -> list[Candidate]:
    """Profiles and loads for partner rows (selected with the partner columns), in order."""
    if not rows:
        return []
    lists = side_lists(session, [r.mpn_id for r in rows])
    return [candidate_of(r, lists.get(r.mpn_id, {})) for r in rows]


def load_partner(session: Session, mpn_id: str) -> Candidate | None:
    rows = connection_of(session).execute(_PARTNER_BY_ID, {"b_mpn_id": mpn_id}).all()
    found = load_partners(session, rows)
    return found[0] if found else None
