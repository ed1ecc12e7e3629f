"""Partner directory: idempotent all-or-nothing import, side tables, pause / resume."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from db.directory import PartnerDirectory, UnknownPartner
from db.models import Partner, PartnerCountry, PartnerLanguage, PartnerSegment, PartnerWorkload
from db.tokens import TokenStore
from tests.dbfixtures import T0, Database, partner_profile


async def _side(database: Database, mpn_id: str) -> dict[str, set[str]]:
    async with database.sessionmaker() as s:
        return {
            "workloads": set(
                await s.scalars(
                    select(PartnerWorkload.workload).where(PartnerWorkload.mpn_id == mpn_id)
                )
            ),
            "languages": set(
                await s.scalars(
                    select(PartnerLanguage.language).where(PartnerLanguage.mpn_id == mpn_id)
                )
            ),
            "countries": set(
                await s.scalars(
                    select(PartnerCountry.country).where(PartnerCountry.mpn_id == mpn_id)
                )
            ),
            "segments": set(
                await s.scalars(
                    select(PartnerSegment.segment).where(PartnerSegment.mpn_id == mpn_id)
                )
            ),
        }


async def test_import_is_idempotent_and_fills_side_tables(database: Database) -> None:
    directory = PartnerDirectory(database.sessionmaker)
    profiles = [partner_profile("200"), partner_profile("100", paused_until=date(2026, 3, 9))]

    assert await directory.upsert(profiles, T0) == (2, 0)
    assert await directory.upsert(profiles, T0 + timedelta(hours=1)) == (0, 0)

    records = await directory.list()
    assert [r.profile for r in records] == sorted(profiles, key=lambda p: p.mpn_id)
    assert await _side(database, "100") == {
        "workloads": {"teams", "exchange"},
        "languages": {"en", "de"},
        "countries": {"US", "CA"},
        "segments": {"education"},
    }
    async with database.sessionmaker() as s:
        row = await s.get(Partner, "200")
        assert row is not None
        assert row.profile["workloads"] == ["teams", "exchange"]
        assert row.profile["paused_until"] is None
        assert row.updated_at == T0


async def test_update_replaces_side_rows_and_keeps_bookkeeping(database: Database) -> None:
    directory = PartnerDirectory(database.sessionmaker)
    await directory.upsert([partner_profile("100")], T0)
    async with database.sessionmaker() as s, s.begin():
        await s.execute(
            update(Partner).values(open_assignments=3, capacity_declines=1, last_assigned_at=T0)
        )

    changed = partner_profile(
        "100", workloads=["intune"], countries=[], segments=["government"], name="Renamed"
    )
    later = T0 + timedelta(days=1)
    assert await directory.upsert([changed], later) == (0, 1)

    record = await directory.get("100")
    assert record is not None
    assert record.profile == changed
    assert (record.open_assignments, record.capacity_declines) == (3, 1)
    assert record.last_assigned_at == T0
    assert await _side(database, "100") == {
        "workloads": {"intune"},
        "languages": {"en", "de"},
        "countries": {"US"},
        "segments": {"government"},
    }


async def test_import_is_all_or_nothing(database: Database) -> None:
    directory = PartnerDirectory(database.sessionmaker)
    broken = partner_profile("300", name=None)
    with pytest.raises(Exception):  # noqa: B017 - any database error rolls everything back
        await directory.upsert([partner_profile("100"), broken], T0)
    assert await directory.list() == []


async def test_repeated_mpn_id_in_one_import_last_wins(database: Database) -> None:
    directory = PartnerDirectory(database.sessionmaker)
    first, second = partner_profile("100"), partner_profile("100", name="Second")
    assert await directory.upsert([first, second], T0) == (1, 0)
    record = await directory.get("100")
    assert record is not None and record.profile.name == "Second"


async def test_pause_resume_and_expiry(database: Database) -> None:
    directory = PartnerDirectory(database.sessionmaker)
    await directory.upsert([partner_profile("100"), partner_profile("200")], T0)

    paused = await directory.pause("100", date(2026, 3, 5), T0)
    assert paused.profile.paused_until == date(2026, 3, 5)
    await directory.pause("200", date(2026, 3, 6), T0)

    # paused_until is the last paused day, to its end in the partner's zone (New York)
    assert await directory.resume_expired(datetime(2026, 3, 6, 4, 0, tzinfo=UTC)) == []
    assert await directory.resume_expired(datetime(2026, 3, 6, 6, 0, tzinfo=UTC)) == ["100"]
    assert await directory.resume_expired(datetime(2026, 3, 7, 12, 0, tzinfo=UTC)) == ["200"]
    record = await directory.get("100")
    assert record is not None and record.profile.paused_until is None

    await directory.pause("100", date(2026, 4, 1), T0)
    resumed = await directory.resume("100", T0)
    assert resumed.profile.paused_until is None
    async with database.sessionmaker() as s:
        row = await s.get(Partner, "100")
        assert row is not None and row.profile["paused_until"] is None


async def test_unknown_partner(database: Database) -> None:
    directory = PartnerDirectory(database.sessionmaker)
    assert await directory.get("nope") is None
    with pytest.raises(UnknownPartner) as info:
        await directory.pause("nope", date(2026, 3, 5), T0)
    assert str(info.value) == "unknown partner 'nope'"
    with pytest.raises(UnknownPartner):
        await directory.resume("nope", T0)


async def test_active_tokens_are_counted(database: Database) -> None:
    directory = PartnerDirectory(database.sessionmaker)
    tokens = TokenStore(database.sessionmaker)
    await directory.upsert([partner_profile("100"), partner_profile("200")], T0)
    await tokens.issue("100", T0)
    await tokens.issue("100", T0)
    await tokens.issue("200", T0)
    await tokens.revoke("200", T0)
    counts = {r.profile.mpn_id: r.active_tokens for r in await directory.list()}
    assert counts == {"100": 2, "200": 0}
