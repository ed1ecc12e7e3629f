"""Write transactions: `run_write` runs synchronous work on a `Session` in one transaction,
retried after a lost unique-key race or a SQLite lock timeout; INSERT … ON CONFLICT helpers.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, Insert, Table, create_engine, event
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker as orm_sessionmaker

from db import sqlite

WRITE_RETRIES = 3

T = TypeVar("T")


async def run_write(
    sessionmaker: async_sessionmaker[AsyncSession], work: Callable[[Session], T]
) -> T:
    """Run `work` (synchronous, given a `Session`) in a write transaction; retry it when a
    concurrent writer won a unique-key race or the SQLite lock wait timed out. `work` must be
    safe to run again."""
    for attempt in range(1, WRITE_RETRIES + 1):
        try:
            return await _transaction(sessionmaker, work)
        except IntegrityError as exc:
            if not is_unique_violation(exc) or attempt == WRITE_RETRIES:
                raise
        except OperationalError as exc:
            if not is_sqlite_busy(exc) or attempt == WRITE_RETRIES:
                raise
        await asyncio.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


async def _transaction(
    sessionmaker: async_sessionmaker[AsyncSession], work: Callable[[Session], T]
) -> T:
    """One transaction running `work` on a synchronous session.

    PostgreSQL: an ordinary transaction through the async driver (concurrent writers lock
    rows, not the database). SQLite has one writer at a time: a file is written by this
    process's writer thread (`_SqliteWriter`), a database in memory by one task at a time.
    Both begin with `BEGIN IMMEDIATE`, taking the write lock up front (waiting up to the busy
    timeout for other processes), so read-then-write work never fails half way to upgrade it.
    """
    bind = sessionmaker.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        async with sessionmaker() as session:
            result = await session.run_sync(work)
            await session.commit()
            return result
    if sqlite.is_file(bind.url):
        return await _SqliteWriter.of(bind).run(work)
    async with _memory_lock(bind), sessionmaker() as session:
        await (await session.connection()).exec_driver_sql("BEGIN IMMEDIATE")
        result = await session.run_sync(work)
        await session.commit()
        return result


class _SqliteWriter:
    """The one thread that writes a SQLite file for this process: it runs each write
    transaction whole, one after the other, on its own synchronous connection (plain calls,
    not an event-loop round trip per statement while the file's write lock is held)."""

    def __init__(self, url: URL) -> None:
        self._engine = create_engine(
            url.set(drivername="sqlite+pysqlite"),
            connect_args={"timeout": sqlite.BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        sqlite.configure(self._engine)
        self._sessions = orm_sessionmaker(self._engine, expire_on_commit=False)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")

    @staticmethod
    def of(engine: AsyncEngine) -> _SqliteWriter:
        """The writer of `engine`'s file, closed when the engine is disposed."""
        writer = _WRITERS.get(engine.sync_engine)
        if writer is None:
            writer = _WRITERS[engine.sync_engine] = _SqliteWriter(engine.url)
            if not event.contains(engine.sync_engine, "engine_disposed", _close_writer):
                event.listen(engine.sync_engine, "engine_disposed", _close_writer)
        return writer

    async def run(self, work: Callable[[Session], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._transaction, work)

    def close(self) -> None:
        """Close the connection and end the thread once the queued transactions are done."""
        self._thread.submit(self._engine.dispose)
        self._thread.shutdown(wait=False)

    def _transaction(self, work: Callable[[Session], T]) -> T:
        with self._sessions() as session:
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            result = work(session)
            session.commit()
            return result


# Per engine (its synchronous facade), for SQLite files.
_WRITERS: weakref.WeakKeyDictionary[Engine, _SqliteWriter] = weakref.WeakKeyDictionary()
# Per event loop and engine, for SQLite databases in memory (no second connection sees them).
_MEMORY_LOCKS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, weakref.WeakKeyDictionary[Engine, asyncio.Lock]
] = weakref.WeakKeyDictionary()


def _close_writer(engine: Engine) -> None:
    writer = _WRITERS.pop(engine, None)
    if writer is not None:
        writer.close()


def _memory_lock(engine: AsyncEngine) -> asyncio.Lock:
    locks = _MEMORY_LOCKS.setdefault(asyncio.get_running_loop(), weakref.WeakKeyDictionary())
    return locks.setdefault(engine.sync_engine, asyncio.Lock())


def is_unique_violation(exc: DBAPIError) -> bool:
    """A unique-key conflict, on PostgreSQL or SQLite."""
    if getattr(exc.orig, "sqlstate", None) == "23505":
        return True
    message = str(exc.orig)
    return "UNIQUE constraint failed" in message or "duplicate key value" in message


def is_sqlite_busy(exc: DBAPIError) -> bool:
    """SQLite's "database is locked" / busy: another process held the write lock too long."""
    message = str(exc.orig).lower()
    return "locked" in message or "busy" in message


def dialect_insert(dialect: str) -> Callable[[Table], Any]:
    """The `insert` of `dialect` (`postgresql` or `sqlite`), with its ON CONFLICT clauses."""
    return postgresql.insert if dialect == "postgresql" else sqlite_dialect.insert


@functools.cache
def _insert_ignore(dialect: str, table: Table) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING, built once per table so that its compiled form is
    cached (executed with parameters rather than built with `.values(...)` per call)."""
    return dialect_insert(dialect)(table).on_conflict_do_nothing()


def table_of(model: type[Any]) -> Table:
    """The `Table` of a mapped class."""
    return cast(Table, model.__table__)


def insert_ignore(
    session: Session, model: type[Any], values: dict[str, Any] | list[dict[str, Any]]
) -> bool:
    """INSERT … ON CONFLICT DO NOTHING for a mapped class's table (one row, or several with
    the same keys); True when a single row was inserted."""
    conn = session.connection()
    result = conn.execute(_insert_ignore(conn.dialect.name, table_of(model)), values)
    return bool(getattr(result, "rowcount", 0) == 1)
