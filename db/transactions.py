"""Write transactions: `run_write` runs synchronous work on a `Session` in one transaction,
retried after a lost unique-key race or a SQLite lock timeout; INSERT … ON CONFLICT helpers.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

WRITE_RETRIES = 3

T = TypeVar("T")

# One lock per SQLite database and event loop: this process's writers take turns.
_SQLITE_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


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
    """One transaction running `work` on the session's synchronous facade.

    PostgreSQL: an ordinary transaction (concurrent writers lock rows, not the database).
    SQLite allows one writer at a time: this process's writers queue on an asyncio lock, and
    `BEGIN IMMEDIATE` takes the file's write lock up front (waiting up to the busy timeout for
    other processes), so read-then-write logic never fails to upgrade its lock half way.
    """
    bind = sessionmaker.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        async with sessionmaker() as session:
            result = await session.run_sync(work)
            await session.commit()
            return result
    async with _sqlite_lock(bind), sessionmaker() as session:
        await (await session.connection()).exec_driver_sql("BEGIN IMMEDIATE")
        result = await session.run_sync(work)
        await session.commit()
        return result


def _sqlite_lock(engine: AsyncEngine) -> asyncio.Lock:
    locks = _SQLITE_LOCKS.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(str(engine.url), asyncio.Lock())


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
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


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
