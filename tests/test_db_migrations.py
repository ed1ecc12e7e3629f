"""Migrations: schema equals db/models.py, idempotent and concurrent upgrades, clear errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from db.engine import DatabaseUnavailable, make_engine, open_database
from db.migrate import alembic_config, migrate
from db.schema import metadata
from tests.dbfixtures import Database, fresh_database_url

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def _diff(conn: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(conn), metadata))


async def test_migrated_schema_matches_models(database: Database) -> None:
    async with database.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
        version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    assert version == HEAD


async def test_migrate_twice_and_concurrently(db_backend: str, tmp_path: Path) -> None:
    async with fresh_database_url(db_backend, tmp_path) as url:
        opened = await asyncio.gather(*(open_database(url) for _ in range(3)))
        for engine, _ in opened:
            await migrate(engine)
        engine = opened[0][0]
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM alembic_version")) == 1
            assert await conn.run_sync(_diff) == []
        for engine, _ in opened:
            await engine.dispose()


async def test_downgrade_to_base_and_back(db_backend: str, tmp_path: Path) -> None:
    async with fresh_database_url(db_backend, tmp_path) as url:
        engine, _ = await open_database(url)

        def down(conn: Connection) -> set[str]:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
            return set(inspect(conn).get_table_names())

        try:
            async with engine.begin() as conn:
                assert await conn.run_sync(down) == {"alembic_version"}
            await migrate(engine)
            async with engine.connect() as conn:
                assert await conn.run_sync(_diff) == []
        finally:
            await engine.dispose()


async def test_sqlite_settings_and_parent_folder(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "deeper" / "fasttrack.db"
    engine, _ = await open_database(f"sqlite:///{path}")
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await conn.scalar(text("PRAGMA foreign_keys")) == 1
            assert await conn.scalar(text("PRAGMA busy_timeout")) == 30000
        assert path.exists()
    finally:
        await engine.dispose()


async def test_unreachable_postgres_is_one_clear_line() -> None:
    with pytest.raises(DatabaseUnavailable) as info:
        await open_database("postgresql+asyncpg://alice:s3cret@127.0.0.1:1/nowhere")
    message = str(info.value)
    assert "127.0.0.1:1/nowhere" in message
    assert "s3cret" not in message
    assert "\n" not in message


async def test_unopenable_sqlite_file_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DatabaseUnavailable, match="SQLite file"):
        await open_database(f"sqlite+aiosqlite:///{blocker / 'x.db'}")


def test_unsupported_url() -> None:
    with pytest.raises(DatabaseUnavailable, match="unsupported database"):
        make_engine("mysql://root@localhost/db")
