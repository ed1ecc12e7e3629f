"""The database engine and session factory, opened and migrated by `open_database`.

URLs: `sqlite+aiosqlite:///path/to/file.db` or `postgresql+asyncpg://user@host:port/db`
(`sqlite:///…` and `postgresql://…` are accepted and given the async driver). A PostgreSQL URL
may carry `?search_path=NAME`: connections then use that schema, and `migrate` creates it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from db import sqlite

# Re-exported: callers import these from `db.engine` as well as from their own modules.
from db.migrate import MIGRATIONS_DIR, alembic_config, migrate, use_schema
from db.transactions import dialect_insert, insert_ignore, run_write, table_of

__all__ = [
    "MIGRATIONS_DIR",
    "PG_CONNECT_TIMEOUT_S",
    "DatabaseUnavailable",
    "alembic_config",
    "describe",
    "dialect_insert",
    "insert_ignore",
    "make_engine",
    "make_sessionmaker",
    "migrate",
    "normalize_url",
    "open_database",
    "run_write",
    "table_of",
]

PG_CONNECT_TIMEOUT_S = 10


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or opened (message is one line, without secrets)."""


class DatabaseUrlInvalid(DatabaseUnavailable):
    """DATABASE_URL is not a URL of a database this product uses: a setting to fix."""


def normalize_url(url: str) -> URL:
    """Parse `url` and give it the async driver this project uses."""
    try:
        u = make_url(url)
    except ArgumentError:
        raise DatabaseUrlInvalid(f"not a database URL: {url.split('@')[-1]!r}") from None
    backend = u.get_backend_name()
    if backend == "sqlite" and u.drivername != "sqlite+aiosqlite":
        u = u.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres") and u.drivername != "postgresql+asyncpg":
        u = u.set(drivername="postgresql+asyncpg")
    elif backend not in ("sqlite", "postgresql", "postgres"):
        raise DatabaseUrlInvalid(
            f"unsupported database {u.drivername!r} (use sqlite or postgresql)"
        )
    return u


def describe(url: str | URL) -> str:
    """`SQLite file X` or `PostgreSQL at host:port/db`: for messages, never with a password."""
    u = normalize_url(url) if isinstance(url, str) else url
    if u.get_backend_name() == "sqlite":
        return f"SQLite file {u.database or ':memory:'}"
    return f"PostgreSQL at {u.host or 'localhost'}:{u.port or 5432}/{u.database or ''}"


def make_engine(
    url: str, *, pool_size: int | None = None, max_overflow: int | None = None
) -> AsyncEngine:
    """An async engine for `url`: SQLite in WAL mode with a busy timeout, or PostgreSQL; the
    pool sizes (DB_POOL_SIZE, DB_MAX_OVERFLOW) or SQLAlchemy's."""
    u = normalize_url(url)
    pool = {
        k: v for k, v in (("pool_size", pool_size), ("max_overflow", max_overflow)) if v is not None
    }
    if u.get_backend_name() == "sqlite":
        database = u.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = _create_async_engine(
            u, connect_args={"timeout": sqlite.BUSY_TIMEOUT_MS / 1000}, **pool
        )
        sqlite.configure(engine.sync_engine)
        return engine
    connect_args: dict[str, Any] = {"timeout": PG_CONNECT_TIMEOUT_S}
    search_path = u.query.get("search_path")
    if search_path:
        u = u.difference_update_query(["search_path"])
        connect_args["server_settings"] = {"search_path": str(search_path)}
    engine = _create_async_engine(u, pool_pre_ping=True, connect_args=connect_args, **pool)
    if search_path:
        use_schema(engine, str(search_path))
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions of `engine` whose objects stay readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def open_database(
    url: str, *, pool_size: int | None = None, max_overflow: int | None = None
) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    """Engine + migrations + session factory. Unreachable database → `DatabaseUnavailable`."""
    try:
        engine = make_engine(url, pool_size=pool_size, max_overflow=max_overflow)
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
