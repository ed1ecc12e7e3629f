"""The one granted "partner at capacity" decline: claimed atomically, idempotent, releasable."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from activities.directory import DirectoryActivities
from db.directory import PartnerDirectory
from db.models import Partner
from domain.models import CapacityGrant
from tests.dbfixtures import T0, Database, partner_profile


async def _declines(database: Database, mpn_id: str) -> int:
    async with database.sessionmaker() as s:
        query = select(Partner.capacity_declines).where(Partner.mpn_id == mpn_id)
        return int(await s.scalar(query) or 0)


async def test_the_grant_goes_to_one_assignment_and_the_same_claim_again_keeps_it(
    database: Database,
) -> None:
    await PartnerDirectory(database.sessionmaker).upsert([partner_profile("100")], T0)
    grants = DirectoryActivities(database.sessionmaker)
    first, second = CapacityGrant("100", "FT-1", 1), CapacityGrant("100", "FT-2", 1)
    results = await asyncio.gather(
        *(grants.grant_capacity_decline(g) for g in (first, second, first, second))
    )
    assert results.count(True) == 2 and results.count(False) == 2  # one winner, asked twice
    winner = first if results[0] else second
    assert await grants.grant_capacity_decline(winner)  # a retried activity: same answer
    assert await _declines(database, "100") == 1


async def test_a_released_grant_can_be_claimed_by_another_decline(database: Database) -> None:
    await PartnerDirectory(database.sessionmaker).upsert([partner_profile("100")], T0)
    grants = DirectoryActivities(database.sessionmaker)
    assert await grants.grant_capacity_decline(CapacityGrant("100", "FT-1", 1))
    assert not await grants.grant_capacity_decline(CapacityGrant("100", "FT-1", 2))
    await grants.grant_capacity_decline(CapacityGrant("100", "FT-1", 1, release=True))
    assert await _declines(database, "100") == 0
    assert await grants.grant_capacity_decline(CapacityGrant("100", "FT-1", 2))
    assert await _declines(database, "100") == 1
