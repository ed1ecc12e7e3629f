"""SQLite connection settings shared by every engine on a SQLite file: WAL, a busy timeout,
foreign keys, and no transaction left open when a connection goes back to the pool."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL

BUSY_TIMEOUT_MS = 30_000


def configure(engine: Engine) -> None:
    """Apply the settings to every connection `engine` (or an async engine's
    `sync_engine`) opens."""
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "checkin", _end_open_transaction)


def is_file(url: URL) -> bool:
    """Whether `url` names a SQLite file (other connections can open it), not memory."""
    database = url.database or ""
    return bool(database) and database != ":memory:" and "mode=memory" not in database


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        # With WAL, NORMAL never corrupts; a power cut may lose the last commits, which the
        # next snapshot of each referral rewrites (the workflow is the source of truth).
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


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


def _end_open_transaction(dbapi_connection: Any, _record: Any) -> None:
    """A COMMIT refused by a deferred constraint leaves SQLite's transaction open while
    SQLAlchemy considers it ended (so the pool skips its rollback): end it on check-in."""
    driver = getattr(dbapi_connection, "driver_connection", dbapi_connection)
    if driver is not None and driver.in_transaction:
        dbapi_connection.rollback()
