"""Alembic environment. `db.migrate.migrate` passes a live connection in
`config.attributes["connection"]`; the `alembic` command line (`-c db/alembic.ini`) connects to
`DATABASE_URL` (or the default SQLite file) itself."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from db.schema import metadata

config = context.config
target_metadata = metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_settings() -> None:
    from db.engine import make_engine
    from db.migrate import lock_for_migration
    from settings import Settings, SettingsError

    try:
        url = Settings.from_env().database_url
    except SettingsError as err:  # one line, not a traceback
        raise SystemExit(f"alembic: {err}") from None
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            await lock_for_migration(conn)  # concurrent `alembic upgrade`s take turns
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


_connection = config.attributes.get("connection")
if _connection is not None:
    _run(_connection)
elif context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
else:
    asyncio.run(_run_from_settings())
