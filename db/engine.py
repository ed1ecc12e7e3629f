"""Engine and session factory, Alembic migrations to head, and write-transaction helpers.

URLs: `sqlite+aiosqlite:///path/to/file.db` or `postgresql+asyncpg://user@host:port/db`
(`sqlite:///…` and `postgresql://…` are accepted and given the async driver). A PostgreSQL URL
may carry `?search_path=NAME`: connections then use that schema, and `migrate` creates it.
"""

from __future__ import annotations

import asyncio
import functools
import time
import weakref
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Insert, Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 10
_MIGRATION_LOCK_KEY = zlib.crc32(b"fasttrack-referrals:migrations")
_WRITE_RETRIES = 3

T = TypeVar("T")

# PostgreSQL schema named by `?search_path=` per engine, created by `migrate`.
_SCHEMAS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or opened (message is one line, without secrets)."""


def normalize_url(url: str) -> URL:
    """Parse `url` and give it the async driver this project uses."""
    try:
        u = make_url(url)
    except ArgumentError:
        raise DatabaseUnavailable(f"not a database URL: {url.split('@')[-1]!r}") from None
    backend = u.get_backend_name()
    if backend == "sqlite" and u.drivername != "sqlite+aiosqlite":
        u = u.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres") and u.drivername != "postgresql+asyncpg":
        u = u.set(drivername="postgresql+asyncpg")
    elif backend not in ("sqlite", "postgresql", "postgres"):
        raise DatabaseUnavailable(
            f"unsupported database {u.drivername!r} (use sqlite or postgresql)"
        )
    return u


def describe(url: str | URL) -> str:
    """`SQLite file X` or `PostgreSQL at host:port/db`: for messages, never with a password."""
    u = normalize_url(url) if isinstance(url, str) else url
    if u.get_backend_name() == "sqlite":
        return f"SQLite file {u.database or ':memory:'}"
    return f"PostgreSQL at {u.host or 'localhost'}:{u.port or 5432}/{u.database or ''}"


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL (persistent: done once per file). Changing the journal mode
    does not wait on the busy timeout, so connections opening a new file at the same moment
    can see "database is locked": retry briefly (only ever on a file's first opens)."""
    for attempt in range(1, 41):
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as exc:
            if "locked" not in str(exc).lower() or attempt == 40:
                raise
        time.sleep(0.025 * min(attempt, 8))


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        # With WAL, NORMAL never corrupts; a power cut may lose the last commits, which the
        # next snapshot of each referral rewrites (the workflow is the source of truth).
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def make_engine(url: str) -> AsyncEngine:
    u = normalize_url(url)
    if u.get_backend_name() == "sqlite":
        database = u.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = _create_async_engine(u, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine
    connect_args: dict[str, Any] = {"timeout": PG_CONNECT_TIMEOUT_S}
    search_path = u.query.get("search_path")
    if search_path:
        u = u.difference_update_query(["search_path"])
        connect_args["server_settings"] = {"search_path": str(search_path)}
    engine = _create_async_engine(u, pool_pre_ping=True, connect_args=connect_args)
    if search_path:
        _SCHEMAS[engine.sync_engine] = str(search_path)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    return cfg


def _upgrade(sync_conn: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Apply the Alembic migrations up to head. Idempotent, and safe when several processes
    start together: PostgreSQL serializes on a transaction-level advisory lock, SQLite on
    `BEGIN IMMEDIATE` (waiting up to the busy timeout, then retrying)."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
            schema = _SCHEMAS.get(engine.sync_engine)
            if schema:
                quoted = conn.dialect.identifier_preparer.quote_identifier(schema)
                await conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
            await conn.run_sync(_upgrade)
            await conn.commit()
        return
    for attempt in range(1, _WRITE_RETRIES + 1):
        try:
            async with engine.connect() as conn:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
                await conn.run_sync(_upgrade)
                await conn.commit()
            return
        except OperationalError as exc:
            if not _is_sqlite_busy(exc) or attempt == _WRITE_RETRIES:
                raise
            await asyncio.sleep(0.2 * attempt)


async def open_database(url: str) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    """Engine + migrations + session factory. Unreachable database → `DatabaseUnavailable`."""
    try:
        engine = make_engine(url)
    except OSError as exc:
        raise DatabaseUnavailable(f"cannot open {describe(url)}: {exc.strerror or exc}") from exc
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (OSError, TimeoutError, DBAPIError) as exc:
        await engine.dispose()
        raise DatabaseUnavailable(f"cannot open {describe(url)}: {_first_line(exc)}") from exc
    try:
        await migrate(engine)
    except BaseException:
        await engine.dispose()
        raise
    return engine, make_sessionmaker(engine)


def _first_line(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    lines = str(inner).strip().splitlines()
    return lines[0] if lines else type(inner).__name__


def _is_unique_violation(exc: DBAPIError) -> bool:
    if getattr(exc.orig, "sqlstate", None) == "23505":
        return True
    message = str(exc.orig)
    return "UNIQUE constraint failed" in message or "duplicate key value" in message


def _is_sqlite_busy(exc: DBAPIError) -> bool:
    message = str(exc.orig).lower()
    return "locked" in message or "busy" in message


# ---------------------------------------------------------------------------------------
# Write transactions
# ---------------------------------------------------------------------------------------


@asynccontextmanager
async def write_session(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session in one transaction that commits on success. On SQLite the transaction starts
    with `BEGIN IMMEDIATE`, so read-then-write logic holds the write lock from the start."""
    async with sessionmaker() as session:
        conn = await session.connection()
        if conn.dialect.name == "sqlite":
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield session
        await session.commit()


async def run_write(
    sessionmaker: async_sessionmaker[AsyncSession],
    work: Callable[[AsyncSession], Awaitable[T]],
) -> T:
    """Run `work` in a write transaction; retry it when a concurrent writer won a unique-key
    race or the SQLite lock wait timed out. `work` must be safe to run again."""
    for attempt in range(1, _WRITE_RETRIES + 1):
        try:
            async with write_session(sessionmaker) as session:
                return await work(session)
        except IntegrityError as exc:
            if not _is_unique_violation(exc) or attempt == _WRITE_RETRIES:
                raise
        except OperationalError as exc:
            if not _is_sqlite_busy(exc) or attempt == _WRITE_RETRIES:
                raise
        await asyncio.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


@functools.cache
def _insert_ignore(dialect: str, table: Table) -> Insert:
    """INSERT … ON CONFLICT DO NOTHING, built once per table: executed with parameters, its
    compiled form is cached, where a statement built with `.values(...)` per call costs the
    coercion of every value and a fresh cache key (a third of a write's CPU, measured)."""
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return dialect_insert(table).on_conflict_do_nothing()


def table_of(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


async def insert_ignore(
    session: AsyncSession, model: type[Any], values: dict[str, Any] | list[dict[str, Any]]
) -> bool:
    """INSERT … ON CONFLICT DO NOTHING for a mapped class's table (one row, or several with
    the same keys); True when a single row was inserted."""
    conn = await session.connection()
    result = await conn.execute(_insert_ignore(conn.dialect.name, table_of(model)), values)
    return bool(getattr(result, "rowcount", 0) == 1)
