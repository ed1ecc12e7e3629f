"""The partner directory: profiles, their side tables for matching, pause / resume.

Pause semantics are `domain.pauses` (`paused_until` is the last paused day, which ends at
midnight in the partner's time zone); `resume_expired(now)` clears the pauses over. Who owns
which field is `domain.ownership`: the caller merges an import before `upsert`. `version`
counts the changes of a profile (edits, pauses, imports) for the portal's optimistic saves;
the bookkeeping columns (open_assignments, last_assigned_at, capacity_declines) survive imports.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from db.audit import SYSTEM_PAUSE_SWEEP, Action, Actor, record_event
from db.candidates import bump_tick
from db.models import (
    ApiToken,
    Partner,
    PartnerCountry,
    PartnerLanguage,
    PartnerSegment,
    PartnerWorkload,
)
from db.transactions import run_write
from domain.models import PartnerProfile
from domain.pauses import check_pause, is_paused

_SIDE_TABLES = (PartnerWorkload, PartnerLanguage, PartnerCountry, PartnerSegment)
_PROFILE_FIELDS = tuple(f.name for f in dataclasses.fields(PartnerProfile))
SYSTEM = Actor("system")


Merge = Callable[[PartnerProfile, PartnerProfile], PartnerProfile]


class ChangedMeanwhile(Exception):
    """The profile changed after the form was loaded; `current` is how it is now."""

    def __init__(self, current: PartnerRecord) -> None:
        super().__init__(current.profile.mpn_id)
        self.current = current

    def __str__(self) -> str:
        return f"the profile of {self.current.profile.mpn_id} changed meanwhile"


class UnknownPartner(KeyError):
    """No partner with that MPN ID in the directory."""

    def __init__(self, mpn_id: str) -> None:
        super().__init__(mpn_id)
        self.mpn_id = mpn_id

    def __str__(self) -> str:
        return f"unknown partner {self.mpn_id!r}"


@dataclass
class PartnerRecord:
    profile: PartnerProfile
    open_assignments: int
    last_assigned_at: datetime | None
    capacity_declines: int
    active_tokens: int
    version: int = 0  # counts the profile's changes (`edit` saves against it)


def profile_json(profile: PartnerProfile) -> dict[str, Any]:
    """The contract JSON of a profile (domain field names, dates as ISO strings)."""
    data = dataclasses.asdict(profile)
    data["paused_until"] = profile.paused_until.isoformat() if profile.paused_until else None
    return data


def profile_from_json(data: dict[str, Any]) -> PartnerProfile:
    values = {k: data[k] for k in _PROFILE_FIELDS if k in data}
    raw = values.get("paused_until")
    values["paused_until"] = date.fromisoformat(raw) if isinstance(raw, str) else raw
    return PartnerProfile(**values)


def _columns(profile: PartnerProfile) -> dict[str, Any]:
    return {
        "name": profile.name,
        "referral_contact": profile.referral_contact,
        "referral_ready": profile.referral_ready,
        "benefit_referrals": profile.benefit_referrals,
        "fasttrack_ready": profile.fasttrack_ready,
        "min_seats": profile.min_seats,
        "max_seats": profile.max_seats,
        "home_country": profile.home_country,
        "timezone": profile.timezone,
        "paused_until": profile.paused_until,
        "max_open_referrals": profile.max_open_referrals,
        "locale": profile.locale,
        "profile": profile_json(profile),
    }


def _side_rows(profile: PartnerProfile) -> list[Any]:
    mpn = profile.mpn_id
    countries = sorted({c for c in (profile.home_country, *profile.countries) if c})
    return [
        *(PartnerWorkload(mpn_id=mpn, workload=w) for w in sorted(set(profile.workloads))),
        *(PartnerLanguage(mpn_id=mpn, language=lang) for lang in sorted(set(profile.languages))),
        *(PartnerCountry(mpn_id=mpn, country=c) for c in countries),
        *(
            PartnerSegment(mpn_id=mpn, segment=s)
            for s in sorted(set(profile.segments))
            if s != "commercial"
        ),
    ]


class PartnerDirectory:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def upsert(
        self,
        profiles: builtins.list[PartnerProfile],
        now: datetime,
        actor: Actor = SYSTEM,
        merge: Merge | None = None,
    ) -> tuple[int, int]:
        """Create or update profiles in one transaction. Returns (created, updated); profiles
        identical to the stored ones count as neither. A repeated MPN ID: the last one wins.
        `merge(stored, incoming)` decides what an existing partner's profile becomes (e.g.
        `domain.ownership.program_update`); without it, the incoming profile replaces it.
        Each created or updated profile is audited (the fields that changed)."""
        latest = {p.mpn_id: p for p in profiles}

        def work(session: Session) -> tuple[int, int]:
            tick = bump_tick(session)
            rows = session.scalars(select(Partner).where(Partner.mpn_id.in_(list(latest))))
            existing = {row.mpn_id: row for row in rows}
            created = updated = 0
            for mpn_id, profile in latest.items():
                row = existing.get(mpn_id)
                if row is None:
                    session.add(
                        Partner(
                            mpn_id=mpn_id,
                            created_at=now,
                            updated_at=now,
                            change_tick=tick,
                            profile_tick=tick,
                            version=1,
                            **_columns(profile),
                        )
                    )
                    created += 1
                    record_event(session, now, actor, Action.PROFILE_CREATED, mpn_id=mpn_id)
                    session.flush()
                    session.add_all(_side_rows(profile))
                    continue
                if merge is not None:
                    profile = merge(_record(row, 0).profile, profile)
                updated += _rewrite(session, row, profile, now, actor, tick)
            return created, updated

        return await run_write(self._sessionmaker, work)

    async def edit(
        self,
        mpn_id: str,
        version: int,
        change: Callable[[PartnerProfile], PartnerProfile],
        now: datetime,
        actor: Actor = SYSTEM,
    ) -> PartnerRecord:
        """Apply `change` to the stored profile if it is still at `version` (the one a form
        was loaded with); `ChangedMeanwhile` (with the current record) when it is not."""

        def work(session: Session) -> PartnerRecord | None:
            tick = bump_tick(session)
            row = session.get(Partner, mpn_id)
            if row is None:
                raise UnknownPartner(mpn_id)
            if row.version != version:
                return None
            _rewrite(session, row, change(_record(row, 0).profile), now, actor, tick)
            return _record(row, 0)

        if await run_write(self._sessionmaker, work) is None:
            raise ChangedMeanwhile(await self._require(mpn_id))
        return await self._require(mpn_id)

    async def list(self) -> list[PartnerRecord]:
        async with self._sessionmaker() as session:
            return await self._records(session, None)

    async def get(self, mpn_id: str) -> PartnerRecord | None:
        async with self._sessionmaker() as session:
            records = await self._records(session, mpn_id)
        return records[0] if records else None

    async def pause(
        self, mpn_id: str, until: date, now: datetime, actor: Actor = SYSTEM
    ) -> PartnerRecord:
        """Pause referrals up to and including `until`; `domain.pauses.PauseError` when the
        pause is outside its limit (nothing written)."""
        await self._set_paused(mpn_id, until, now, actor)
        return await self._require(mpn_id)

    async def resume(self, mpn_id: str, now: datetime, actor: Actor = SYSTEM) -> PartnerRecord:
        await self._set_paused(mpn_id, None, now, actor)
        return await self._require(mpn_id)

    async def resume_expired(self, now: datetime) -> builtins.list[str]:
        """Clear the pauses over at `now` (`domain.pauses`); returns the MPN IDs resumed."""
        # a pause ends at most a day before or after midnight UTC of its last day
        soon = now.astimezone(UTC).date() + timedelta(days=1)

        def work(session: Session) -> builtins.list[str]:
            tick = bump_tick(session)
            rows = session.scalars(
                select(Partner).where(Partner.paused_until < soon).order_by(Partner.mpn_id)
            )
            resumed = []
            for row in rows:
                last_day = row.paused_until
                if is_paused(last_day, row.timezone, now):
                    continue
                _apply_pause(row, None, now, tick)
                resumed.append(row.mpn_id)
                why = Actor(SYSTEM_PAUSE_SWEEP, f"the pause ended on {last_day}")
                record_event(session, now, why, Action.PAUSE_ENDED, mpn_id=row.mpn_id)
            return resumed

        return await run_write(self._sessionmaker, work)

    async def _set_paused(
        self, mpn_id: str, until: date | None, now: datetime, actor: Actor
    ) -> None:
        def work(session: Session) -> None:
            tick = bump_tick(session)  # first: directory writers take turns on the counter
            row = session.get(Partner, mpn_id)
            if row is None:
                raise UnknownPartner(mpn_id)
            before = row.paused_until
            if until is None and before is None:
                return  # not paused: nothing changes, an open profile form stays current
            if until is not None:
                check_pause(until, row.timezone, now)
            _apply_pause(row, until, now, tick)
            if until is not None:
                detail = f"paused until {until.isoformat()} (inclusive)"
                if before is not None:
                    detail += f", was until {before.isoformat()}"
                record_event(session, now, actor, Action.PAUSED, mpn_id=mpn_id, detail=detail)
            else:
                detail = f"was paused until {before.isoformat()}" if before else ""
                record_event(session, now, actor, Action.RESUMED, mpn_id=mpn_id, detail=detail)

        await run_write(self._sessionmaker, work)

    async def _require(self, mpn_id: str) -> PartnerRecord:
        record = await self.get(mpn_id)
        if record is None:
            raise UnknownPartner(mpn_id)
        return record

    @staticmethod
    async def _records(session: AsyncSession, mpn_id: str | None) -> builtins.list[PartnerRecord]:
        tokens = (
            select(ApiToken.mpn_id, func.count().label("n"))
            .where(ApiToken.revoked_at.is_(None))
            .group_by(ApiToken.mpn_id)
            .subquery()
        )
        stmt = (
            select(Partner, func.coalesce(tokens.c.n, 0))
            .outerjoin(tokens, tokens.c.mpn_id == Partner.mpn_id)
            .order_by(Partner.mpn_id)
        )
        if mpn_id is not None:
            stmt = stmt.where(Partner.mpn_id == mpn_id)
        result = await session.execute(stmt)
        return [_record(row, int(active)) for row, active in result.all()]


def _rewrite(
    session: Session, row: Partner, profile: PartnerProfile, now: datetime, actor: Actor, tick: int
) -> int:
    """Write `profile` over an existing row (audited); 1 when it changed, else 0."""
    columns = _columns(profile)
    if not any(getattr(row, k) != v for k, v in columns.items()):
        return 0
    changed = _changed_fields(row.profile, columns["profile"])
    record_event(session, now, actor, Action.PROFILE_UPDATED, mpn_id=row.mpn_id, detail=changed)
    for key, value in columns.items():
        setattr(row, key, value)
    row.updated_at = now
    row.change_tick = row.profile_tick = tick
    row.version += 1
    for table in _SIDE_TABLES:
        session.execute(delete(table).where(table.mpn_id == row.mpn_id))
    session.flush()
    session.add_all(_side_rows(profile))
    return 1


def _changed_fields(before: dict[str, Any], after: dict[str, Any]) -> str:
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return "changed: " + ", ".join(keys) if keys else ""


def _apply_pause(row: Partner, until: date | None, now: datetime, tick: int) -> None:
    row.paused_until = until
    row.profile = {**row.profile, "paused_until": until.isoformat() if until else None}
    row.updated_at = now
    row.change_tick = tick
    row.version += 1


def _record(row: Partner, active_tokens: int) -> PartnerRecord:
    profile = profile_from_json(row.profile)
    profile.paused_until = row.paused_until
    return PartnerRecord(
        profile=profile,
        open_assignments=row.open_assignments,
        last_assigned_at=row.last_assigned_at,
        capacity_declines=row.capacity_declines,
        active_tokens=active_tokens,
        version=row.version,
    )
