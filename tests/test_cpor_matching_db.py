"""Matching against the stored directory: the index ranks partners with and without a
capacity limit by open count, and looks the customer tenant's CPOR claims up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from db.audit import Actor
from db.candidates import bump_tick, match, match_and_reserve
from db.claims import ClaimStore
from db.directory import PartnerDirectory
from db.engine import open_database
from db.models import Partner
from db.transactions import run_write
from domain.claims import Claim
from domain.models import MatchRequest, Referral
from tests.dbfixtures import BACKENDS, Database, fresh_database_url
from tests.factories import partner, referral

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TENANT = "6f1c2d3e-0000-4000-8000-000000000001"  # the factory referral's tenant
OPERATOR = Actor("operator:test")


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh database per test: the directory index is per engine."""
    async with fresh_database_url(request.param, tmp_path) as url:
        engine, sessions = await open_database(url)
        yield Database(request.param, url, engine, sessions)
        await engine.dispose()


def request_for(ref: Referral, attempt: int = 1) -> MatchRequest:
    return MatchRequest(ref, ref.referral_id, list(ref.workloads), attempt, [], NOW)


async def _load(db: Database, mpn_id: str, open_assignments: int) -> None:
    """Set a partner's open count as the load bookkeeping does (with a change tick)."""

    def work(session: Session) -> None:
        tick = bump_tick(session)
        session.execute(
            update(Partner)
            .where(Partner.mpn_id == mpn_id)
            .values(open_assignments=open_assignments, change_tick=tick)
        )

    await run_write(db.sessionmaker, work)


async def _chosen(db: Database, ref: Referral) -> tuple[str | None, str, str]:
    async with db.sessionmaker() as session:
        result = await match(session, request_for(ref))
    chosen = result.partner.mpn_id if result.partner else None
    return chosen, result.explanation.cpor, result.explanation.rank_keys.get("rule", "")


async def test_the_index_ranks_an_unlimited_partner_by_its_open_count(db: Database) -> None:
    await PartnerDirectory(db.sessionmaker).upsert(
        [partner("1"), partner("2", max_open_referrals=10)], NOW
    )
    await _load(db, "1", 50)
    await _load(db, "2", 2)
    assert await _chosen(db, referral("FT-R1")) == ("2", "", "")


async def test_matching_looks_up_the_tenants_claims(db: Database) -> None:
    sessions = db.sessionmaker
    await PartnerDirectory(sessions).upsert([partner("1"), partner("2"), partner("3")], NOW)
    await _load(db, "2", 5)
    claims = ClaimStore(sessions)
    await claims.import_claims([Claim(TENANT.upper(), "2", ("sharepoint", "teams"))], NOW, OPERATOR)
    ref = referral("FT-C1", cpor_partner="3")
    assert await _chosen(db, ref) == ("2", "chosen", "cpor")
    result = await match_and_reserve(sessions, request_for(ref), NOW)
    assert result.partner is not None and result.partner.mpn_id == "2"
    assert result.explanation.note == "CPOR: cpor_partner 3: claim not found"

    await PartnerDirectory(sessions).pause("2", NOW.date(), NOW, OPERATOR)
    assert await _chosen(db, referral("FT-C2")) == (
        "1",
        "claim of 2: not eligible: not_paused",
        "",
    )
    await claims.revoke(TENANT, "2", NOW, OPERATOR)
    assert await _chosen(db, referral("FT-C3")) == ("1", "", "")


async def test_a_claimant_gets_the_part_its_claim_covers(db: Database) -> None:
    sessions = db.sessionmaker
    await PartnerDirectory(sessions).upsert(
        [partner("1", workloads=["teams"]), partner("2", workloads=["intune"]),
         partner("3", workloads=["intune"])],
        NOW,
    )  # fmt: skip
    await _load(db, "2", 4)
    await ClaimStore(sessions).import_claims([Claim(TENANT, "2", ("intune",))], NOW, OPERATOR)
    ref = referral("FT-S1", workloads=["teams", "intune"])
    async with sessions() as session:
        whole = await match(session, request_for(ref))
        part = MatchRequest(ref, "FT-S1.part2", ["intune"], 1, [], NOW)
        second = await match(session, part)
    assert whole.partner is None and whole.split == [["teams"], ["intune"]]
    assert second.partner is not None and second.partner.mpn_id == "2"
    assert second.explanation.cpor == "chosen"
