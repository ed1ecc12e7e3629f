"""Matching latency benchmark: `python -m bench.matching [--sizes 1000,10000,100000]
[--db sqlite|postgres|both] [--matches 200] [--seed 7] [--no-reserve]`.

Builds a synthetic directory (bulk inserts in chunks), then times one match per random
referral: `db.candidates.match` = the directory index catching up with the changes since
the previous match (`DirectoryIndex.refresh`), the bitset pre-filter, loading the winner
and the pure `evaluate`, with the explanation counts. After each match the chosen partner is
reserved (untimed; `--no-reserve` skips it), so every match also pays for the index
catching up with the previous reservation. Also reports the counts alone (`explain_counts`)
and the one-off index build. Prints a table and writes bench/results/matching.json.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from db.models import (
    Base,
    Partner,
    PartnerCountry,
    PartnerLanguage,
    PartnerSegment,
    PartnerWorkload,
)
from domain.models import (
    WORKLOADS,
    Customer,
    MatchRequest,
    PartnerLoad,
    PartnerProfile,
    Referral,
    TrackRecord,
)
from domain.track_record import RankingTerms

TRACK_RECORD = RankingTerms(mode="track_record")  # the default RANKING
ROTATION = RankingTerms(mode="rotation")

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
RESULTS = Path(__file__).resolve().parent / "results" / "matching.json"
AS_OF = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

COUNTRIES = ("US", "DE", "GB", "FR", "CA", "NL", "ES", "IT", "JP", "AU", "BR", "IN", "SE", "CH")
COUNTRY_WEIGHTS = (30, 12, 10, 8, 6, 4, 4, 4, 4, 4, 4, 4, 3, 3)
LANG_OF = {
    "US": "en", "DE": "de", "GB": "en", "FR": "fr", "CA": "en", "NL": "nl", "ES": "es",
    "IT": "it", "JP": "ja", "AU": "en", "BR": "pt", "IN": "en", "SE": "sv", "CH": "de",
}  # fmt: skip
SPECIAL_SEGMENTS = ("education", "government", "nonprofit")
SEAT_BANDS = ((0, 500), (150, 5000), (300, 20000), (1000, None), (0, None), (5000, None))


# ---------------------------------------------------------------------------------------
# Synthetic data (also used by the tests)
# ---------------------------------------------------------------------------------------


def synthetic_partner(rng: random.Random, i: int, *, small: bool = False) -> Candidate:
    """A plausible partner. `small` shrinks the vocabularies so random referrals often match."""
    countries = COUNTRIES[:3] if small else COUNTRIES
    home = rng.choices(countries, weights=COUNTRY_WEIGHTS[: len(countries)])[0]
    extra = rng.sample(countries, rng.choice((0, 0, 1, 2, 3)))
    languages = {LANG_OF[home], *(["en"] if rng.random() < 0.6 else [])}
    if rng.random() < 0.2:
        languages.add(LANG_OF[rng.choice(countries)])
    workloads = WORKLOADS[:4] if small else WORKLOADS
    endorsed = rng.sample(workloads, rng.choice((1, 2, 2, 3, 3, 4)))
    low, high = rng.choice(SEAT_BANDS)
    ft_ready = rng.random() < 0.4
    paused = None
    if rng.random() < 0.05:
        paused = AS_OF.date() + timedelta(days=rng.randint(-10, 10))
    profile = PartnerProfile(
        mpn_id=f"{4700000 + i}",
        name=f"Partner {i}",
        referral_contact=f"referrals@p{i}.example",
        referral_ready=rng.random() < 0.92,
        benefit_referrals=ft_ready and rng.random() < 0.8,
        fasttrack_ready=ft_ready,
        workloads=sorted(endorsed),
        languages=sorted(languages),
        segments=sorted(s for s in SPECIAL_SEGMENTS if rng.random() < 0.15),
        min_seats=low,
        max_seats=high,
        home_country=home,
        countries=sorted(c for c in extra if c != home),
        timezone="UTC",
        paused_until=paused,
        max_open_referrals=rng.choice((None, None, 1, 2, 3, 5, 10)),
    )
    cap = profile.max_open_referrals
    load = PartnerLoad(
        mpn_id=profile.mpn_id,
        open_assignments=rng.randint(0, (cap if cap is not None else 6) + (1 if small else 0)),
        last_assigned_at=(
            None
            if rng.random() < 0.3
            else AS_OF - timedelta(hours=rng.randint(1, 24 * 60 if not small else 6))
        ),
        record=synthetic_record(random.Random(f"record-{i}")),
    )
    return profile, load


def synthetic_record(rng: random.Random) -> TrackRecord:
    """A plausible track record (a fifth of the partners are newcomers without one)."""
    if rng.random() < 0.2:
        return TrackRecord()
    offers = rng.randint(1, 30)
    expired = rng.randint(0, offers // 3)
    declined = rng.randint(0, (offers - expired) // 3)
    accepted = offers - expired - declined
    completed = rng.randint(0, accepted)
    return TrackRecord(
        offers=offers,
        accepted=accepted,
        expired=expired,
        declined_partner=declined,
        completed=completed,
    )


def synthetic_request(
    rng: random.Random,
    partner_ids: Sequence[str] = (),
    *,
    small: bool = False,
    allow_split: bool = True,
) -> MatchRequest:
    countries = COUNTRIES[:3] if small else COUNTRIES
    country = rng.choices(countries, weights=COUNTRY_WEIGHTS[: len(countries)])[0]
    workloads = WORKLOADS[:4] if small else WORKLOADS
    wanted = rng.sample(workloads, rng.choice((1, 1, 2, 2, 3, 4) if small else (1, 1, 2, 2, 3)))
    segment = "commercial" if rng.random() < 0.75 else rng.choice(SPECIAL_SEGMENTS)
    excluded = rng.sample(list(partner_ids), min(len(partner_ids), rng.choice((0, 0, 1, 2))))
    cpor = None
    if partner_ids and rng.random() < 0.25:
        cpor = rng.choice(list(partner_ids))
    referral = Referral(
        referral_id=f"FT-{uuid.UUID(int=rng.getrandbits(128)).hex[:10]}",
        type=rng.choice(("benefit", "standard", "standard")),
        customer=Customer(
            name="Customer",
            country=country,
            language=LANG_OF[country] if rng.random() < 0.8 else "en",
            segment=segment,
            seats=rng.choice((50, 200, 800, 2400, 9000, 30000)),
        ),
        workloads=wanted,
        cpor_partner=cpor,
    )
    return MatchRequest(
        referral=referral,
        scope_id=referral.referral_id,
        workloads=list(wanted),
        attempt=1,
        excluded=excluded,
        as_of=AS_OF + timedelta(minutes=rng.randint(0, 600)),
        allow_split=allow_split,
    )


def partner_rows(candidates: Iterable[Candidate]) -> dict[str, list[dict[str, Any]]]:
    """Rows for the partners table and its side tables (as `PartnerDirectory.upsert` writes)."""
    from db.directory import profile_json

    rows: dict[str, list[dict[str, Any]]] = {"p": [], "w": [], "l": [], "c": [], "s": []}
    now = AS_OF - timedelta(days=30)
    for p, load in candidates:
        rows["p"].append(
            {
                "mpn_id": p.mpn_id,
                "name": p.name,
                "referral_contact": p.referral_contact,
                "referral_ready": p.referral_ready,
                "benefit_referrals": p.benefit_referrals,
                "fasttrack_ready": p.fasttrack_ready,
                "min_seats": p.min_seats,
                "max_seats": p.max_seats,
                "home_country": p.home_country,
                "timezone": p.timezone,
                "paused_until": p.paused_until,
                "max_open_referrals": p.max_open_referrals,
                "open_assignments": load.open_assignments,
                "last_assigned_at": load.last_assigned_at,
                "capacity_declines": load.capacity_declines,
                "track_record": asdict(load.record) if load.record.offers else None,
                "profile": profile_json(p),
                "created_at": now,
                "updated_at": now,
            }
        )
        rows["w"] += [{"mpn_id": p.mpn_id, "workload": w} for w in sorted(set(p.workloads))]
        rows["l"] += [{"mpn_id": p.mpn_id, "language": x} for x in sorted(set(p.languages))]
        rows["c"] += [{"mpn_id": p.mpn_id, "country": c} for c in sorted(p.countries_served())]
        rows["s"] += [
            {"mpn_id": p.mpn_id, "segment": s} for s in sorted(set(p.segments)) if s != "commercial"
        ]
    return rows


async def insert_partners(
    conn: AsyncConnection, candidates: Iterable[Candidate], chunk: int = 5000
) -> None:
    """Bulk insert (executemany in chunks): partners first, then the side tables; stamped
    with a new directory change tick, as `PartnerDirectory.upsert` does."""
    from db.candidates import bump_tick

    tick = await conn.run_sync(bump_tick)
    rows = partner_rows(candidates)
    for row in rows["p"]:
        row["change_tick"] = row["profile_tick"] = tick
    tables: tuple[tuple[str, type[Base]], ...] = (
        ("p", Partner),
        ("w", PartnerWorkload),
        ("l", PartnerLanguage),
        ("c", PartnerCountry),
        ("s", PartnerSegment),
    )
    for key, table in tables:
        data = rows[key]
        for start in range(0, len(data), chunk):
            await conn.execute(insert(table), data[start : start + chunk])


async def analyze(engine: AsyncEngine) -> None:
    """Refresh planner statistics (both databases choose the driving index from them); on
    PostgreSQL also VACUUM, as autovacuum would, so index-only scans skip the heap."""
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        sql = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
        await auto.execute(text(sql))


# ---------------------------------------------------------------------------------------
# Benchmark
# ---------------------------------------------------------------------------------------


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def _sqlite_engine(workdir: Path, size: int) -> AsyncEngine:
    from db.engine import make_engine

    return make_engine(f"sqlite+aiosqlite:///{workdir / f'bench_{size}.db'}")


async def _pg_engine(schema: str) -> AsyncEngine:
    from db.engine import make_engine

    admin = make_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    await admin.dispose()
    return make_engine(f"{PG_URL}?search_path={schema}")


async def _drop_pg_schema(schema: str) -> None:
    from db.engine import make_engine

    admin = make_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await admin.dispose()


async def _time_matches(
    sessionmaker: async_sessionmaker[AsyncSession],
    requests: list[MatchRequest],
    *,
    reserve_chosen: bool,
    terms: RankingTerms = TRACK_RECORD,
) -> tuple[float, dict[str, list[float]]]:
    """(seconds to build the directory index, per-match timings). Each match runs in its
    own session, as `match_and_reserve` does; with `reserve_chosen` the chosen partner is
    then reserved (untimed), so the next match also catches its index up with that change."""
    from db.candidates import SlotTaken, directory_index, explain_counts, match, reserve
    from db.transactions import run_write

    t0 = time.perf_counter()
    async with sessionmaker() as session:
        await directory_index(session)
        await session.rollback()
    build_s = time.perf_counter() - t0
    times: dict[str, list[float]] = {"match": [], "choose": [], "counts": [], "split": []}
    async with sessionmaker() as session:
        for request in requests[:5]:  # warm-up: caches, prepared statements
            await match(session, request, terms)
        await session.rollback()
    for request in requests:
        async with sessionmaker() as session:
            t0 = time.perf_counter()
            result = await match(session, request, terms)
            t1 = time.perf_counter()
            await explain_counts(session, request)
            t2 = time.perf_counter()
            await session.rollback()
        counts_ms = (t2 - t1) * 1000
        total_ms = (t1 - t0) * 1000
        times["match"].append(total_ms)
        times["counts"].append(counts_ms)
        times["choose"].append(max(0.0, total_ms - counts_ms))
        if result.split or (result.partner is None):
            times["split"].append(total_ms)
        if reserve_chosen and result.partner is not None:
            try:
                work = functools.partial(reserve, request=request, result=result, now=request.as_of)
                await run_write(sessionmaker, work)
            except SlotTaken:
                pass
    return build_s, times


async def bench_one(
    db: str,
    size: int,
    matches: int,
    seed: int,
    *,
    reserve_chosen: bool = True,
    terms: RankingTerms = TRACK_RECORD,
) -> dict[str, Any]:
    rng = random.Random(seed)
    partners = [synthetic_partner(rng, i) for i in range(size)]
    ids = [p.mpn_id for p, _ in partners]
    requests = [synthetic_request(rng, ids) for _ in range(matches)]
    schema = f"m_bench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        engine = await (_sqlite_engine(Path(tmp), size) if db == "sqlite" else _pg_engine(schema))
        try:
            t0 = time.perf_counter()
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
                await insert_partners(conn, partners)
            await analyze(engine)
            load_s = time.perf_counter() - t0
            build_s, times = await _time_matches(
                async_sessionmaker(engine, expire_on_commit=False),
                requests,
                reserve_chosen=reserve_chosen,
                terms=terms,
            )
        finally:
            await engine.dispose()
            if db == "postgres":
                await _drop_pg_schema(schema)
    row: dict[str, Any] = {
        "size": size,
        "db": db,
        "matches": matches,
        "load_s": round(load_s, 1),
        "index_build_s": round(build_s, 2),
    }
    for name, values in times.items():
        if values:
            row[f"{name}_p50_ms"] = round(statistics.median(values), 2)
            row[f"{name}_p99_ms"] = round(_percentile(values, 0.99), 2)
    row["no_single_partner"] = len(times["split"])
    return row


def _print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'size':>7} {'db':<8} {'p50 ms':>7} {'p99 ms':>7} | {'choose p50':>10} "
        f"{'choose p99':>10} | {'counts p50':>10} {'counts p99':>10} | {'split/esc':>9} "
        f"| {'build s':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['size']:>7} {r['db']:<8} {r['match_p50_ms']:>7} {r['match_p99_ms']:>7} | "
            f"{r['choose_p50_ms']:>10} {r['choose_p99_ms']:>10} | "
            f"{r['counts_p50_ms']:>10} {r['counts_p99_ms']:>10} | {r['no_single_partner']:>9} "
            f"| {r['index_build_s']:>7}"
        )


async def _pg_available() -> bool:
    from db.engine import make_engine

    engine = make_engine(PG_URL)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.matching", description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--matches", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--no-reserve", action="store_true", help="do not reserve the chosen partners"
    )
    parser.add_argument("--ranking", choices=("track_record", "rotation"), default="track_record")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if "postgres" in dbs and not await _pg_available():
        print(f"PostgreSQL not reachable at {PG_URL}: skipping it")
        dbs.remove("postgres")
    rows = []
    for size in sizes:
        for db in dbs:
            rows.append(
                await bench_one(
                    db,
                    size,
                    args.matches,
                    args.seed,
                    reserve_chosen=not args.no_reserve,
                    terms=TRACK_RECORD if args.ranking == "track_record" else ROTATION,
                )
            )
    _print_table(rows)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "measured": "db.candidates.match (index refresh + bitset pre-filter + "
                "winner load + evaluate + counts), one session per match; "
                + (
                    "the chosen partner reserved after each match (untimed)"
                    if not args.no_reserve
                    else "no reservations"
                )
                + "; counts = explain_counts alone; choose = match minus counts; "
                "index_build_s = first full read of the directory",
                "at": date.today().isoformat(),
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")
    return 0


Candidate = tuple[PartnerProfile, PartnerLoad]

if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
