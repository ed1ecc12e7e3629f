"""Alembic migrations to head, safe when several processes start together."""

from __future__ import annotations

import asyncio
import weakref
import zlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.transactions import WRITE_RETRIES, is_sqlite_busy

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK_KEY = zlib.crc32(b"fasttrack-referrals:migrations")

# PostgreSQL schema named by `?search_path=` per engine, created by `migrate`.
_SCHEMAS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def use_schema(engine: AsyncEngine, schema: str) -> None:
    """Have `migrate` create `schema` (the engine's PostgreSQL search path) if missing."""
    _SCHEMAS[engine.sync_engine] = schema


def alembic_config() -> Config:
    """The Alembic configuration of this project's migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    return cfg


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
    for attempt in range(1, WRITE_RETRIES + 1):
        try:
            async with engine.connect() as conn:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
                await conn.run_sync(_upgrade)
                await conn.commit()
            return
        except OperationalError as exc:
            if not is_sqlite_busy(exc) or attempt == WRITE_RETRIES:
                raise
            await asyncio.sleep(0.2 * attempt)


def _upgrade(sync_conn: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")
