"""Write transactions (`db.engine.run_write`): SQLite files are written by one thread per
engine, PostgreSQL through the async driver, SQLite in memory through an asyncio gate."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db import engine as db_engine
from db.candidates import bump_tick
from db.engine import insert_ignore, make_engine, make_sessionmaker, run_write
from db.models import Base, LinkUse
from tests.dbfixtures import Database

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _count(db: Database) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(LinkUse)) or 0)


async def test_concurrent_writes_all_land_in_order(database: Database) -> None:
    """Forty transactions at once, each reading then writing the change counter: every one
    lands once, none sees another's uncommitted state (ticks 1..40, no gaps, no repeats)."""

    def work(i: int):
        def write(session: Session) -> int:
            insert_ignore(session, LinkUse, {"nonce": f"n{i}", "used_at": NOW})
            return bump_tick(session)

        return write

    ticks = await asyncio.gather(*(run_write(database.sessionmaker, work(i)) for i in range(40)))
    assert sorted(ticks) == list(range(1, 41))
    assert await _count(database) == 40


async def test_a_failing_transaction_writes_nothing(database: Database) -> None:
    def work(session: Session) -> None:
        insert_ignore(session, LinkUse, {"nonce": "lost", "used_at": NOW})
        raise ValueError("refused half way")

    with pytest.raises(ValueError, match="half way"):
        await run_write(database.sessionmaker, work)
    assert await _count(database) == 0
    assert await run_write(
        database.sessionmaker,
        lambda s: insert_ignore(s, LinkUse, {"nonce": "kept", "used_at": NOW}),
    )
    assert await _count(database) == 1


async def test_sqlite_file_writes_run_on_the_writer_thread(tmp_path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    sessions = make_sessionmaker(engine)
    try:
        names = await asyncio.gather(
            *(run_write(sessions, lambda s: threading.current_thread().name) for _ in range(5))
        )
        assert set(names) == {"sqlite-writer"}
        assert engine.sync_engine in db_engine._WRITERS
    finally:
        await engine.dispose()
    assert engine.sync_engine not in db_engine._WRITERS  # closed with the engine
    # a disposed engine can be used again: a new writer
    assert await run_write(sessions, lambda s: bump_tick(s)) == 1
    await engine.dispose()


async def test_sqlite_in_memory_writes_through_the_event_loop() -> None:
    engine = make_engine("sqlite+aiosqlite://")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    sessions = make_sessionmaker(engine)
    try:
        ticks = await asyncio.gather(*(run_write(sessions, bump_tick) for _ in range(5)))
        assert sorted(ticks) == [1, 2, 3, 4, 5]
        assert engine.sync_engine not in db_engine._WRITERS
    finally:
        await engine.dispose()


async def test_one_failing_transaction_among_many_fails_alone(database: Database) -> None:
    """Transactions queued together (SQLite: one group commit) each stand alone: the one
    that fails is rolled back and its caller gets the error; the others land."""

    def work(i: int):
        def write(session: Session) -> int:
            insert_ignore(session, LinkUse, {"nonce": f"g{i}", "used_at": NOW})
            if i == 7:
                raise ValueError("the seventh refuses")
            return i

        return write

    results = await asyncio.gather(
        *(run_write(database.sessionmaker, work(i)) for i in range(20)), return_exceptions=True
    )
    assert [r for r in results if isinstance(r, BaseException)] == [results[7]]
    assert isinstance(results[7], ValueError)
    assert await _count(database) == 19
    async with database.sessionmaker() as session:
        assert await session.get(LinkUse, "g7") is None


async def test_a_transaction_failing_at_its_flush_fails_alone(database: Database) -> None:
    """An ORM insert that conflicts only when flushed (at the savepoint's end in a group)
    fails its caller alone; nobody is left waiting."""
    await run_write(database.sessionmaker, lambda s: s.add(LinkUse(nonce="taken", used_at=NOW)))

    def work(i: int):
        def write(session: Session) -> int:
            session.add(LinkUse(nonce="taken" if i == 3 else f"f{i}", used_at=NOW))
            return i

        return write

    async with asyncio.timeout(30):
        results = await asyncio.gather(
            *(run_write(database.sessionmaker, work(i)) for i in range(12)),
            return_exceptions=True,
        )
    assert isinstance(results[3], IntegrityError)
    assert [r for i, r in enumerate(results) if i != 3] == [i for i in range(12) if i != 3]
    assert await _count(database) == 12
