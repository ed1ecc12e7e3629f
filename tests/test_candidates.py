"""Directory index, explanation counts and reservation on SQLite and PostgreSQL: always
equal to the pure `domain.matching` functions on the directory as stored."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from bench.matching import AS_OF, insert_partners, synthetic_partner, synthetic_request
from db.candidates import (
    PARTNER_COLUMNS,
    explain_counts,
    find_candidates,
    load_partners,
    match,
    match_and_reserve,
    reserve,
)
from db.directory import PartnerDirectory
from db.engine import make_engine
from db.models import AssignmentRecord, Base, Partner
from db.readmodel import _adjust_partner
from db.transactions import run_write
from domain.matching import (
    Candidate,
    MatchContext,
    evaluate,
    explain_removals,
    ranked,
    split_pool,
)
from domain.models import Customer, MatchRequest, PartnerLoad, PartnerProfile, Referral

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


async def _pg_reachable() -> bool:
    engine = make_engine(PG_URL)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
        async with eng.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        yield eng
        await eng.dispose()
        return
    if not await _pg_reachable():
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    schema = f"m_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng = make_engine(f"{PG_URL}?search_path={schema}")
    try:
        async with eng.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        yield eng
    finally:
        await eng.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def directory(seed: int, size: int) -> list[Candidate]:
    rng = random.Random(seed)
    partners = [synthetic_partner(rng, i, small=True) for i in range(size)]
    for i, (_p, load) in enumerate(partners):  # make some rank ties on recency
        if i % 7 == 0:
            load.last_assigned_at = AS_OF.replace(hour=1)
    return partners


async def fill(engine: AsyncEngine, partners: list[Candidate]) -> None:
    async with engine.begin() as conn:
        await insert_partners(conn, partners)


def ids(cands: list[Candidate]) -> list[str]:
    return [p.mpn_id for p, _ in cands]


async def test_prefilter_and_counts_equal_pure_on_random_directory(engine, sessionmaker):
    partners = directory(11, 300)
    await fill(engine, partners)
    rng = random.Random(5)
    all_ids = ids(partners)
    checked = {"partner": 0, "split": 0, "escalated": 0}
    for _ in range(60):
        request = synthetic_request(rng, all_ids, small=True)
        ctx = MatchContext.of(request, partners)
        removed, eligible = explain_removals(partners, ctx)
        async with sessionmaker() as session:
            size, found = await find_candidates(session, request, for_split=False)
            _, pool = await find_candidates(session, request, for_split=True)
            counts = await explain_counts(session, request)
            result = await match(session, request)
        assert size == len(partners)
        assert ids(found) == ids(ranked(eligible))  # same set, same ranking order
        assert {p.mpn_id: p for p, _ in found} == {
            p.mpn_id: p for p, _ in eligible
        }  # profiles load back intact
        expected_pool = split_pool(partners, request)
        assert sorted(ids(pool)) == sorted(ids(list(expected_pool.values())))
        assert counts.removed == removed
        assert counts.eligible == len(eligible)
        assert counts.candidates == len(partners)
        expected = evaluate(partners, request)
        assert result == expected
        kind = "partner" if expected.partner else "split" if expected.split else "escalated"
        checked[kind] += 1
    assert all(checked.values()), checked


def simple_request(scope: str, *, attempt: int = 1, excluded: list[str] | None = None):
    referral = Referral(
        referral_id=scope,
        type="standard",
        customer=Customer("C", "US", "en", "commercial", 500),
        workloads=["teams"],
    )
    return MatchRequest(referral, scope, ["teams"], attempt, excluded or [], AS_OF)


def one_partner(mpn_id: str, cap: int | None, open_: int = 0) -> Candidate:
    p = PartnerProfile(
        mpn_id=mpn_id,
        name=f"P{mpn_id}",
        referral_contact="r@x.example",
        workloads=["teams"],
        languages=["en"],
        home_country="US",
        max_open_referrals=cap,
    )
    return p, PartnerLoad(mpn_id, open_assignments=open_)


async def partner_row(sessionmaker, mpn_id: str) -> tuple[int, datetime | None]:
    async with sessionmaker() as session:
        row = (
            await session.execute(
                select(Partner.open_assignments, Partner.last_assigned_at).where(
                    Partner.mpn_id == mpn_id
                )
            )
        ).one()
    return row[0], row[1]


async def test_reservation_is_idempotent(engine, sessionmaker):
    await fill(engine, [one_partner("1", 5), one_partner("2", 5, open_=1)])
    request = simple_request("FT-A")
    first = await match_and_reserve(sessionmaker, request, NOW)
    again = await match_and_reserve(sessionmaker, request, NOW)
    assert first.partner is not None and first.partner.mpn_id == "1"
    assert again.partner == first.partner
    assert again.explanation == first.explanation
    open_, last = await partner_row(sessionmaker, "1")
    assert open_ == 1
    assert last is not None and last.replace(tzinfo=UTC) == NOW
    async with sessionmaker() as session:
        rows = (await session.execute(select(AssignmentRecord))).scalars().all()
        assert [(r.workflow_id, r.seq, r.partner_id, r.outcome) for r in rows] == [
            ("FT-A", 1, "1", "pending")
        ]
        assert rows[0].explanation == dataclasses.asdict(first.explanation)
    # A direct reserve for the same (scope, attempt) names the recorded partner.
    other = dataclasses.replace(first, partner=dataclasses.replace(first.partner, mpn_id="2"))
    replay = await run_write(sessionmaker, lambda s: reserve(s, request, other, NOW))
    assert replay is None  # nothing written: the recorded result stands
    again = await match_and_reserve(sessionmaker, request, NOW)
    assert again.partner is not None and again.partner.mpn_id == "1"
    assert (await partner_row(sessionmaker, "2"))[0] == 1
    # The next attempt (partner 1 declined) goes elsewhere.
    second = await match_and_reserve(
        sessionmaker, simple_request("FT-A", attempt=2, excluded=["1"]), NOW
    )
    assert second.partner is not None and second.partner.mpn_id == "2"


async def test_the_matched_partner_keeps_its_own_language(engine, sessionmaker):
    """A partner's chosen language (not its home country's) reaches the workflow with the
    match, so its emails go out in it."""
    chosen, _ = one_partner("1", None)
    await PartnerDirectory(sessionmaker).upsert(
        [dataclasses.replace(chosen, home_country="DE", countries=["US"], locale="fr")], NOW
    )
    result = await match_and_reserve(sessionmaker, simple_request("FT-L"), NOW)
    assert result.partner is not None and result.partner.locale == "fr"
    unset, _ = one_partner("2", None)
    await PartnerDirectory(sessionmaker).upsert(
        [dataclasses.replace(unset, home_country="DE", countries=["US"], locale="")], NOW
    )
    other = simple_request("FT-M", excluded=["1"])
    result = await match_and_reserve(sessionmaker, other, NOW)
    assert result.partner is not None and result.partner.locale == "de"  # its home country's


async def test_concurrent_reservations_never_exceed_capacity(engine, sessionmaker):
    await fill(engine, [one_partner("1", 1)])
    requests = [simple_request(f"FT-R{i}") for i in range(4)]
    results = await asyncio.gather(*(match_and_reserve(sessionmaker, r, NOW) for r in requests))
    winners = [r for r in results if r.partner is not None]
    assert len(winners) == 1
    for r in results:
        if r.partner is None:
            assert r.explanation.removed["capacity"] == 1, r.explanation
    assert (await partner_row(sessionmaker, "1"))[0] == 1


async def test_concurrent_same_scope_reserves_once(engine, sessionmaker):
    await fill(engine, [one_partner("1", 10), one_partner("2", 10)])
    request = simple_request("FT-S")
    results = await asyncio.gather(
        *(match_and_reserve(sessionmaker, request, NOW) for _ in range(3))
    )
    assert len({r.partner.mpn_id for r in results if r.partner}) == 1
    total = (await partner_row(sessionmaker, "1"))[0] + (await partner_row(sessionmaker, "2"))[0]
    assert total == 1


async def _whole_directory(sessionmaker) -> list[Candidate]:
    async with sessionmaker() as session:
        rows = (await session.execute(select(*PARTNER_COLUMNS).order_by(Partner.mpn_id))).all()
        return await session.run_sync(load_partners, rows)


async def _check_against_pure(sessionmaker, rng: random.Random, rounds: int) -> None:
    partners = await _whole_directory(sessionmaker)
    all_ids = ids(partners)
    for _ in range(rounds):
        request = synthetic_request(rng, all_ids, small=True)
        async with sessionmaker() as session:
            result = await match(session, request)
            _, found = await find_candidates(session, request, for_split=False)
        expected = evaluate(partners, request)
        assert result == expected
        ctx = MatchContext.of(request, partners)
        assert ids(found) == ids(ranked(explain_removals(partners, ctx)[1]))


async def test_index_follows_loads_pauses_and_imports(engine, sessionmaker):
    """The in-memory index catches up with every kind of change (through the change ticks)
    and stays equal to the pure function on the directory as stored."""
    await fill(engine, directory(23, 150))
    rng = random.Random(9)
    directory_api = PartnerDirectory(sessionmaker)
    await _check_against_pure(sessionmaker, rng, 10)  # builds the index

    # Load: reservations (+1 each) and closed assignments (-1).
    partners = await _whole_directory(sessionmaker)
    for i in range(12):
        request = synthetic_request(rng, ids(partners), small=True)
        request = dataclasses.replace(request, scope_id=f"FT-L{i}")
        await match_and_reserve(sessionmaker, request, NOW)

    def close_one(session: Session) -> None:
        _adjust_partner(session, partners[0][0].mpn_id, -1)
        _adjust_partner(session, partners[1][0].mpn_id, -1)

    await run_write(sessionmaker, close_one)
    await _check_against_pure(sessionmaker, rng, 10)

    # Pause / resume.
    for p, _ in partners[:20]:
        await directory_api.pause(p.mpn_id, AS_OF.date(), NOW)
    await directory_api.resume(partners[0][0].mpn_id, NOW)
    await _check_against_pure(sessionmaker, rng, 10)
    await directory_api.resume_expired(AS_OF + timedelta(days=2))
    await _check_against_pure(sessionmaker, rng, 10)

    # Imports: changed profiles (side rows, capacity, home country) and new partners.
    changed = []
    for p, _ in partners[20:60]:
        changed.append(
            dataclasses.replace(
                p,
                workloads=sorted({*p.workloads[1:], rng.choice(["teams", "intune"])}),
                languages=["en"] if "en" not in p.languages else ["de", "fr"],
                countries=[],
                home_country=rng.choice(["US", "DE", "GB"]),
                max_open_referrals=rng.choice([None, 0, 1, 4]),
                referral_ready=not p.referral_ready,
            )
        )
    fresh = [synthetic_partner(rng, 1000 + i, small=True)[0] for i in range(30)]
    await directory_api.upsert(changed + fresh, NOW)
    await _check_against_pure(sessionmaker, rng, 20)
