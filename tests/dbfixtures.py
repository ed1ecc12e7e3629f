"""Database fixtures: every test using `database` runs on SQLite (a temporary file) and on
PostgreSQL (a fresh schema per test session, dropped afterwards); the PostgreSQL variants skip
with the reason when the server cannot be reached.

PostgreSQL URL: TEST_POSTGRES_URL, default postgresql+asyncpg://postgres@127.0.0.1:5432/test.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.engine import open_database
from db.schema import metadata
from domain.models import (
    Assignment,
    Customer,
    HistoryEntry,
    Outcome,
    PartnerProfile,
    Referral,
    ReferralState,
    Snapshot,
    Status,
)

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@dataclass
class Database:
    backend: str
    url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]


async def _pg_connect() -> asyncpg.Connection:
    u = make_url(PG_URL)
    return await asyncpg.connect(
        host=u.host,
        port=u.port or 5432,
        user=u.username,
        password=u.password,
        database=u.database,
        timeout=5,
    )


_pg_unreachable: list[str] = []


async def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used (checked once per session), or None."""
    if not _pg_unreachable:
        try:
            conn = await _pg_connect()
            await conn.close()
            _pg_unreachable.append("")
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            u = make_url(PG_URL)
            _pg_unreachable.append(f"PostgreSQL not reachable at {u.host}:{u.port or 5432}: {exc}")
    return _pg_unreachable[0] or None


@asynccontextmanager
async def fresh_database_url(backend: str, directory: Path) -> AsyncIterator[str]:
    """A URL to an empty database: a new SQLite file in `directory`, or a new PostgreSQL
    schema (`?search_path=t_…`, created by migrate, dropped on exit). Skips when PostgreSQL is
    unreachable."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / f'db_{secrets.token_hex(4)}.sqlite'}"
        return
    reason = await postgres_unreachable()
    if reason:
        pytest.skip(reason)
    schema = f"t_{secrets.token_hex(6)}"
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}search_path={schema}"
    finally:
        conn = await _pg_connect()
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


@pytest.fixture(scope="session", params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
async def db_url(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    async with fresh_database_url(db_backend, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
async def migrated_database(db_backend: str, db_url: str) -> AsyncIterator[Database]:
    engine, sessionmaker = await open_database(db_url)
    try:
        yield Database(db_backend, db_url, engine, sessionmaker)
    finally:
        await engine.dispose()


@pytest.fixture
async def database(migrated_database: Database) -> Database:
    """The session's migrated database, emptied before each test."""
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    async with migrated_database.engine.begin() as conn:
        for table in tables:
            await conn.execute(text(f"DELETE FROM {table}"))
    return migrated_database


# ---------------------------------------------------------------------------------------
# Factories for database tests
# ---------------------------------------------------------------------------------------

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def partner_profile(mpn_id: str, **overrides: Any) -> PartnerProfile:
    values: dict[str, Any] = {
        "mpn_id": mpn_id,
        "name": f"Partner {mpn_id}",
        "referral_contact": f"referrals@{mpn_id}.example",
        "workloads": ["teams", "exchange"],
        "languages": ["en", "de"],
        "segments": ["commercial", "education"],
        "min_seats": 150,
        "max_seats": 20000,
        "home_country": "US",
        "countries": ["CA"],
        "timezone": "America/New_York",
    }
    return PartnerProfile(**(values | overrides))


def referral(referral_id: str, **overrides: Any) -> Referral:
    values: dict[str, Any] = {
        "referral_id": referral_id,
        "type": "benefit",
        "customer": Customer(
            name="Fabrikam Ltd", country="DE", language="de", segment="commercial", seats=2400
        ),
        "workloads": ["teams", "sharepoint"],
        "active_usage": {"teams": 0.18},
        "account_team": ["ae@microsoft.example"],
    }
    return Referral(**(values | overrides))


def assignment(seq: int, partner: str, outcome: str = Outcome.PENDING, **kw: Any) -> Assignment:
    assigned_at = kw.pop("assigned_at", T0)
    due_at = kw.pop("due_at", assigned_at + timedelta(days=2))
    return Assignment(
        seq=seq,
        partner=partner,
        partner_name=f"Partner {partner}",
        outcome=Outcome(outcome),
        assigned_at=assigned_at,
        due_at=due_at,
        **kw,
    )


def snapshot(
    referral_id: str,
    status: str = Status.PENDING,
    assignments: list[Assignment] | None = None,
    history: list[HistoryEntry] | None = None,
    **state_overrides: Any,
) -> Snapshot:
    ref = referral(referral_id)
    values: dict[str, Any] = {
        "referral_id": referral_id,
        "workflow_id": referral_id,
        "parent_id": None,
        "type": ref.type,
        "workloads": list(ref.workloads),
        "status": status,
        "customer_country": ref.customer.country,
        "seats": ref.customer.seats,
        "created_at": T0,
        "assignments": list(assignments or []),
        "history": list(history or []),
    }
    return Snapshot(state=ReferralState(**(values | state_overrides)), referral=ref)


def event(minutes: int, action: str, actor: str = "system", **kw: Any) -> HistoryEntry:
    return HistoryEntry(at=T0 + timedelta(minutes=minutes), actor=actor, action=action, **kw)
