"""Write transactions (`db.transactions.run_write`) under concurrency: PostgreSQL through the
async driver, a SQLite file through one writer thread per process and `BEGIN IMMEDIATE` across
processes. No lost writes, no "database is locked", a failed transaction writes nothing."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from db.candidates import bump_tick
from db.engine import make_engine, make_sessionmaker
from db.models import Base, LinkUse
from db.transactions import insert_ignore, run_write
from tests.dbfixtures import Database

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent

# Run by a second process: N writers at once on the same file, printing the ticks they took.
_OTHER_PROCESS = """
import asyncio, sys
from datetime import UTC, datetime
from db.candidates import bump_tick
from db.engine import make_engine, make_sessionmaker
from db.models import LinkUse
from db.transactions import insert_ignore, run_write

async def main(url, count):
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    def write(i):
        def work(session):
            insert_ignore(session, LinkUse, {"nonce": f"other{i}", "used_at": datetime.now(UTC)})
            return bump_tick(session)
        return work
    print("ready", flush=True)
    ticks = await asyncio.gather(*(run_write(sessions, write(i)) for i in range(count)))
    print(" ".join(map(str, ticks)), flush=True)
    await engine.dispose()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def _insert_and_bump(prefix: str, i: int):
    def work(session: Session) -> int:
        insert_ignore(session, LinkUse, {"nonce": f"{prefix}{i}", "used_at": NOW})
        return bump_tick(session)

    return work


async def _count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(LinkUse)) or 0)


async def _sqlite_file(path: Path) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    return engine, make_sessionmaker(engine)


async def test_many_concurrent_read_then_write_transactions_all_land_once(
    database: Database,
) -> None:
    """A hundred transactions at once, each reading then writing the change counter: every
    one lands once and none sees another's uncommitted state (ticks 1..100, no repeats)."""
    ticks = await asyncio.gather(
        *(run_write(database.sessionmaker, _insert_and_bump("n", i)) for i in range(100))
    )
    assert sorted(ticks) == list(range(1, 101))
    assert await _count(database.sessionmaker) == 100


async def test_a_failing_transaction_writes_nothing(database: Database) -> None:
    def work(session: Session) -> None:
        insert_ignore(session, LinkUse, {"nonce": "lost", "used_at": NOW})
        raise ValueError("refused half way")

    with pytest.raises(ValueError, match="half way"):
        await run_write(database.sessionmaker, work)
    assert await _count(database.sessionmaker) == 0
    assert await run_write(
        database.sessionmaker,
        lambda s: insert_ignore(s, LinkUse, {"nonce": "kept", "used_at": NOW}),
    )
    assert await _count(database.sessionmaker) == 1


async def test_one_failing_transaction_among_many_fails_alone(database: Database) -> None:
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
    assert await _count(database.sessionmaker) == 19
    async with database.sessionmaker() as session:
        assert await session.get(LinkUse, "g7") is None


async def test_a_transaction_failing_at_its_flush_fails_alone(database: Database) -> None:
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
    assert await _count(database.sessionmaker) == 12


async def test_sqlite_writers_in_two_processes_all_land_without_lock_errors(
    tmp_path: Path,
) -> None:
    """Another process writes the same file at the same time (as the portal and the worker
    do): both sides' transactions land, each tick taken exactly once."""
    path = tmp_path / "shared.db"
    engine, sessions = await _sqlite_file(path)
    try:
        other = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _OTHER_PROCESS,
            f"sqlite+aiosqlite:///{path}",
            "60",
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert other.stdout is not None
        async with asyncio.timeout(60):
            assert (await other.stdout.readline()).strip() == b"ready"
            ours = await asyncio.gather(
                *(run_write(sessions, _insert_and_bump("ours", i)) for i in range(60))
            )
            out, err = await other.communicate()
        assert other.returncode == 0, err.decode()
        theirs = [int(t) for t in out.split()]
        assert sorted(ours + theirs) == list(range(1, 121))
        assert await _count(sessions) == 120
    finally:
        await engine.dispose()


async def test_sqlite_write_waits_for_a_lock_held_elsewhere(tmp_path: Path) -> None:
    """A plain connection holding the write lock for a moment delays the write, not fails it."""
    path = tmp_path / "held.db"
    engine, sessions = await _sqlite_file(path)
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        holding.set()
        release.wait(10)
        conn.execute("ROLLBACK")
        conn.close()

    holder = asyncio.ensure_future(asyncio.to_thread(hold_the_lock))
    try:
        await asyncio.to_thread(holding.wait, 10)
        write = asyncio.ensure_future(run_write(sessions, _insert_and_bump("w", 0)))
        await asyncio.sleep(0.5)
        assert not write.done()
        release.set()
        assert await asyncio.wait_for(write, 10) == 1
    finally:
        release.set()
        await holder
        await engine.dispose()


async def test_a_commit_refused_by_a_deferred_constraint_leaves_sqlite_writable(
    tmp_path: Path,
) -> None:
    engine, sessions = await _sqlite_file(tmp_path / "deferred.db")

    def break_the_commit(session: Session) -> None:  # an FK violation checked at COMMIT
        session.execute(text("PRAGMA defer_foreign_keys = ON"))
        session.execute(text("INSERT INTO partner_workloads VALUES ('nobody', 'teams')"))

    try:
        with pytest.raises(IntegrityError):
            await run_write(sessions, break_the_commit)
        async with asyncio.timeout(10):
            ticks = await asyncio.gather(*(run_write(sessions, bump_tick) for _ in range(5)))
        assert sorted(ticks) == [1, 2, 3, 4, 5]
    finally:
        await engine.dispose()


async def test_sqlite_file_writes_run_on_one_writer_thread_closed_with_the_engine(
    tmp_path: Path,
) -> None:
    engine, sessions = await _sqlite_file(tmp_path / "w.db")
    try:
        names = await asyncio.gather(
            *(run_write(sessions, lambda s: threading.current_thread().name) for _ in range(5))
        )
        assert len(set(names)) == 1 and names[0].startswith("sqlite-writer")
    finally:
        await engine.dispose()
    # a disposed engine can be used again: a new writer
    assert await run_write(sessions, bump_tick) == 1
    await engine.dispose()


async def test_sqlite_in_memory_writes_take_turns() -> None:
    engine = make_engine("sqlite+aiosqlite://")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    sessions = make_sessionmaker(engine)
    try:
        ticks = await asyncio.gather(*(run_write(sessions, bump_tick) for _ in range(5)))
        assert sorted(ticks) == [1, 2, 3, 4, 5]
    finally:
        await engine.dispose()
