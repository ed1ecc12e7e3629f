"""Shared fixtures: one time-skipping Temporal server per session, a real SMTP peer, and a
real database per test — SQLite always, and the machine's PostgreSQL when it is reachable
(skipped with a visible reason when not)."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.testing import WorkflowEnvironment

from db.engine import open_database
from db.schema import metadata
from mail.catalogs import compile_all
from mail.i18n import stale_catalogs
from runtime.smtp_sink import MailSink
from runtime.temporal import start_test_server
from settings import Settings
from tests.dbfixtures import database, db_backend, db_url, migrated_database  # noqa: F401
from tests.harness import Harness, harness_settings
from worker import build_worker


def pytest_sessionstart(session: pytest.Session) -> None:
    """Tests run on the committed catalogs: compile the ones `make i18n` has not yet built
    (once, in the main process: pytest-xdist starts its workers after this hook)."""
    if not hasattr(session.config, "workerinput") and stale_catalogs():
        compile_all()


# Under pytest-xdist (`make test`) each test file goes to one worker whole (its module fixtures
# are set up once), and the files whose tests kill and restart real worker processes and dev
# servers go to one worker together: they run one after another, never two of them at once.
HEAVY_FILES = frozenset(
    {"test_faults_dev_server.py", "test_scaleout.py", "test_integration_cli.py"}
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadFileScheduling

    class Scheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            return "heavy" if file.rsplit("/", 1)[-1] in HEAVY_FILES else file

    return Scheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist the heavy files come first (the scheduler hands out files in
    collection order): their one worker starts on them at once while the other takes the
    rest, instead of running them alone at the end. Stable: the order within files stays."""
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: item.path.name not in HEAVY_FILES)


# Tests, and the processes they start, use the embedded defaults (SQLite file, generated key).
os.environ.setdefault("FASTTRACK_ENV", "demo")

PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_reachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    host, port = "127.0.0.1", 5432
    try:
        with socket.create_connection((host, port), timeout=1):
            return None
    except OSError as err:
        return f"PostgreSQL not reachable at {host}:{port} ({err})"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped afterwards)."""
    why = _pg_reachable()
    if why:
        pytest.skip(why)
    name = f"ft_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'fasttrack.db'}"
    return str(request.getfixturevalue("pg_database"))


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_test_server()
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def mail_sink(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MailSink]:
    sink = MailSink(directory=tmp_path_factory.mktemp("mail"), echo=False)
    await sink.start("127.0.0.1", 0)
    yield sink
    await sink.stop()


async def _empty_tables(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())
    await engine.dispose()


@pytest_asyncio.fixture
async def h(
    request: pytest.FixtureRequest,
    temporal_env: WorkflowEnvironment,
    mail_sink: MailSink,
    database_url: str,
) -> AsyncIterator[Harness]:
    """A real worker on the shared time-skipping server. Tests that skip time (env.sleep)
    are marked `own_test_server` and get a fresh one: time only skips while every workflow
    on the server is idle, so a busy neighbour would hold their clock still."""
    own: WorkflowEnvironment | None = None
    if request.node.get_closest_marker("own_test_server"):
        own = temporal_env = await start_test_server()
    settings = harness_settings(Settings(), database_url, mail_sink.port)
    engine, sessions = await open_database(database_url)
    if database_url.startswith("postgresql"):
        await _empty_tables(database_url)
    mail_sink.clear()
    worker = build_worker(temporal_env.client, settings, sessions)
    async with worker:
        harness = Harness(temporal_env, settings, sessions, mail_sink, worker, uuid.uuid4().hex[:6])
        yield harness
        await harness.cleanup()
    await engine.dispose()
    if own is not None:
        await own.shutdown()
