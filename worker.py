"""Composition root: a Temporal worker running the referral workflow and its activities.

    python worker.py          # against TEMPORAL_ADDRESS
    python worker.py --dev    # first start the embedded dev server (UI on :8233, state in var/)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.deadlines import DeadlineActivities
from activities.email import EmailActivities
from activities.matching import MatchingActivities
from activities.records import RecordActivities
from db.engine import DatabaseUnavailable, open_database
from db.outbox import EmailOutbox
from db.readmodel import ReferralReadModel
from runtime.settings import Settings, SettingsError
from runtime.temporal import TemporalUnavailable, connect, start_dev_server
from workflows.referral import ReferralWorkflow

log = logging.getLogger("fasttrack.worker")


def build_activities(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> list[Any]:
    matching = MatchingActivities(sessions)
    deadlines = DeadlineActivities(settings)
    records = RecordActivities(ReferralReadModel(sessions))
    email = EmailActivities(settings, EmailOutbox(sessions))
    return [
        matching.match_partner,
        deadlines.compute_deadline,
        records.record_snapshot,
        email.send_email,
    ]


def build_worker(
    client: Client,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    **options: Any,
) -> Worker:
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[ReferralWorkflow],
        activities=build_activities(settings, sessions),
        activity_executor=ThreadPoolExecutor(max_workers=4),
        **options,
    )


async def run(settings: Settings, dev: bool) -> None:
    env = None
    engine: AsyncEngine | None = None
    try:
        if dev:
            print("starting the Temporal dev server (state: var/temporal.db) ...", flush=True)
            env = await start_dev_server(settings)
            client = env.client
            print(
                f"Temporal dev server on {settings.temporal_address}, "
                "Web UI on http://localhost:8233",
                flush=True,
            )
        else:
            client = await connect(settings)
        engine, sessions = await open_database(settings.database_url)
        worker = build_worker(client, settings, sessions)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        async with worker:
            print(
                f"worker polling task queue '{settings.task_queue}' "
                f"(namespace '{settings.temporal_namespace}'); Ctrl-C to stop",
                flush=True,
            )
            await stop.wait()
        print("worker stopped", flush=True)
    finally:
        if engine is not None:
            await engine.dispose()
        if env is not None:
            await env.shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="FastTrack referral worker")
    parser.add_argument(
        "--dev", action="store_true", help="start an embedded Temporal dev server first"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    try:
        settings = Settings.from_env()
        asyncio.run(run(settings, args.dev))
    except (SettingsError, TemporalUnavailable, DatabaseUnavailable) as err:
        print(f"worker: {err}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
