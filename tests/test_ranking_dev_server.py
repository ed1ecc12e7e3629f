"""Ranking by track record on the REAL dev server with the project's worker: a partner that
accepts and delivers outranks one that lets its offer expire, even while it holds more open
referrals, and the match result says why."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.directory import PartnerDirectory
from db.engine import open_database
from db.track_record import records
from domain import names
from domain.models import ActionResult, PartnerAction, ReferralState, TrackRecord
from runtime.smtp_sink import MailSink
from settings import Settings
from tests.factories import partner, referral
from tests.harness import harness_settings
from tests.test_search_attributes import DevWorker, dev_server
from worker import build_worker

pytestmark = pytest.mark.integration

ACCEPTS, EXPIRES = "2001", "2002"
TIMEOUT = 60.0


async def wait_for(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@asynccontextmanager
async def ranking_worker(
    env: WorkflowEnvironment, sink: MailSink, tmp_path: Path
) -> AsyncIterator[DevWorker]:
    """The project's worker with the default ranking (track_record) and a short SLA, so that
    an offer expires within the test."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'fasttrack.db'}"
    settings = harness_settings(Settings(), url, sink.port)
    settings = replace(settings, sla_override=timedelta(seconds=6))
    assert settings.ranking == "track_record"
    engine, sessions = await open_database(url)
    try:
        async with build_worker(env.client, settings, sessions):
            yield DevWorker(env.client, settings, sessions)
    finally:
        await engine.dispose()


async def test_a_partner_that_accepts_outranks_one_that_lets_offers_expire(
    tmp_path: Path, mail_sink: MailSink
) -> None:
    async with dev_server(tmp_path) as env, ranking_worker(env, mail_sink, tmp_path) as w:
        await run_scenario(w)


async def run_scenario(w: DevWorker) -> None:
    await PartnerDirectory(w.sessions).upsert(
        [partner(ACCEPTS), partner(EXPIRES)], datetime.now(UTC)
    )

    async def state(handle: WorkflowHandle[Any, Any]) -> ReferralState:
        return await handle.query(names.QUERY_DETAILS, result_type=ReferralState)

    async def offered(handle: WorkflowHandle[Any, Any], seq: int) -> str:
        async def check() -> str | None:
            s = await state(handle)
            ok = len(s.assignments) >= seq and s.assignments[seq - 1].due_at is not None
            return s.assignments[seq - 1].partner if ok else None

        return str(await wait_for(check, f"offer #{seq} of {handle.id}"))

    async def act(handle: WorkflowHandle[Any, Any], update: str, **kw: Any) -> None:
        await handle.execute_update(
            update, PartnerAction(partner=ACCEPTS, **kw), result_type=ActionResult
        )

    async def record_of(mpn_id: str) -> TrackRecord:
        async with w.sessions() as session:
            return (await session.run_sync(records, [mpn_id]))[mpn_id]

    # 1. Both newcomers, MPN ID order: the partner that accepts gets it and delivers.
    first = await w.start(referral("FT-RANK-1"))
    assert await offered(first, 1) == ACCEPTS
    await act(first, "accept")
    await act(first, "complete", vas_sold=False)
    await first.result()

    # 2. The other one is still a newcomer: it gets the next referral and lets it expire;
    #    the referral goes to the partner that accepts, which delivers again.
    second = await w.start(referral("FT-RANK-2"))
    assert await offered(second, 1) == EXPIRES
    assert await offered(second, 2) == ACCEPTS
    await act(second, "accept")
    await act(second, "complete", vas_sold=True, vas_value=100.0)
    await second.result()

    async def settled() -> bool:
        good, bad = await record_of(ACCEPTS), await record_of(EXPIRES)
        return good.completed == 2 and bad.expired == 1

    await wait_for(settled, "both records")

    # 3. The partner that accepts now holds an open referral; the other holds none.
    third = await w.start(referral("FT-RANK-3"))
    assert await offered(third, 1) == ACCEPTS
    await act(third, "accept")

    fourth = await w.start(referral("FT-RANK-4"))
    assert await offered(fourth, 1) == ACCEPTS
    why = (await state(fourth)).assignments[0].explanation
    assert why is not None and why.score is not None
    assert why.tie_rule == "higher score band"
    assert why.rank_keys["load"] == "1/unlimited"  # more open than the other partner (0)
    assert why.score.completed == 2 and why.score.standing == "ranked"
    assert "2 completed" in why.rank_keys["score"]
