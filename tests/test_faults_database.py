"""The database goes away for a while: activities retry, nothing is half-written."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from db.directory import PartnerDirectory
from db.engine import open_database
from db.models import AssignmentRecord, AuditEvent, Partner
from runtime.smtp_sink import MailSink
from settings import Settings
from tests.factories import partner, referral
from tests.harness import Harness, harness_settings
from worker import build_worker


class CuttableProxy:
    """A TCP proxy in front of PostgreSQL whose link can be cut and restored."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.up = True
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(Exception):
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._links |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._links -= {writer, up_writer}

    def cut(self) -> None:
        self.up = False
        for w in list(self._links):
            with contextlib.suppress(Exception):
                w.close()
        self._links.clear()

    def restore(self) -> None:
        self.up = True

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()


@pytest_asyncio.fixture
async def proxied(
    temporal_env: WorkflowEnvironment, mail_sink: MailSink, pg_database: str
) -> AsyncIterator[tuple[Harness, CuttableProxy]]:
    proxy = CuttableProxy("127.0.0.1", 5432)
    await proxy.start()
    name = pg_database.rsplit("/", 1)[1]
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/{name}"
    settings = harness_settings(Settings(), url, mail_sink.port)
    engine, sessions = await open_database(url)
    async with engine.begin() as conn:  # a clean directory for this test
        for table in ("assignments", "audit_events", "referrals", "email_outbox"):
            await conn.exec_driver_sql(f"DELETE FROM {table}")
        await conn.exec_driver_sql("DELETE FROM partners")
    worker = build_worker(temporal_env.client, settings, sessions)
    async with worker:
        h = Harness(temporal_env, settings, sessions, mail_sink, worker, uuid.uuid4().hex[:6])
        yield h, proxy
        proxy.restore()
        await h.cleanup()
    await engine.dispose()
    await proxy.stop()


async def test_postgres_outage_activities_retry_nothing_half_written(
    proxied: tuple[Harness, CuttableProxy],
) -> None:
    h, proxy = proxied
    await h.partners(partner("1001"))
    proxy.cut()
    handle = await h.start(referral("FT-F-PGDOWN"))
    await asyncio.sleep(4)  # matching fails and backs off while the database is away
    state = await h.state(handle)
    assert not state.assignments
    proxy.restore()
    assert await h.assigned(handle) == "1001"
    await h.until(handle, lambda s: len(s.history) >= 2)
    await asyncio.sleep(1)
    async with h.sessions() as session:
        rows = (await session.execute(select(AssignmentRecord))).scalars().all()
        assert [(r.partner_id, r.seq) for r in rows] == [("1001", 1)]
        load = await session.scalar(
            select(Partner.open_assignments).where(Partner.mpn_id == "1001")
        )
        assert load == 1
        events = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.workflow_id == handle.id)
        )
        seqs = (
            (
                await session.execute(
                    select(AuditEvent.seq).where(AuditEvent.workflow_id == handle.id)
                )
            )
            .scalars()
            .all()
        )
        assert events == len(set(seqs))  # no entry written twice


async def test_sqlite_locked_for_a_while_then_everything_lands(
    temporal_env: WorkflowEnvironment, mail_sink: MailSink, tmp_path: pytest.TempPathFactory
) -> None:
    path = f"{tmp_path}/locked.db"
    url = f"sqlite+aiosqlite:///{path}"
    settings = replace(harness_settings(Settings(), url, mail_sink.port))
    engine, sessions = await open_database(url)
    await PartnerDirectory(sessions).upsert([partner("1001")], datetime.now(UTC))
    worker = build_worker(temporal_env.client, settings, sessions)
    async with worker:
        h = Harness(temporal_env, settings, sessions, mail_sink, worker, uuid.uuid4().hex[:6])
        lock = sqlite3.connect(path, timeout=1)
        lock.execute("BEGIN EXCLUSIVE")  # another process holds the database
        try:
            handle = await h.start(referral("FT-F-SQLITELOCK"))
            await asyncio.sleep(3)
            assert not (await h.state(handle)).assignments
        finally:
            lock.rollback()
            lock.close()
        assert await h.assigned(handle) == "1001"
        await h.cleanup()
    async with sessions() as session:
        rows = (await session.execute(select(AssignmentRecord))).scalars().all()
        assert [(r.partner_id, r.seq) for r in rows] == [("1001", 1)]
    await engine.dispose()
