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
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import uvloop
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.plugin import SimplePlugin
from temporalio.service import RPCError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.directory import DirectoryActivities
from activities.email import EmailActivities
from activities.matching import MatchingActivities
from activities.operations import OperationsActivities
from activities.publish import PublishActivities
from activities.webhooks import WebhookActivities
from db.engine import DatabaseUnavailable, open_database
from db.outbox import EmailOutbox
from db.readmodel import ReferralReadModel
from db.webhooks import WebhookStore
from mail.smtp import MailPool
from portal.webhook_view import partner_view
from runtime.health import serve_worker_health
from runtime.logs import configure_logging, core_logging
from runtime.metrics import MetricsUnavailable, runtime_from_env
from runtime.schedules import describe, ensure_schedules
from runtime.sealing import Sealer
from runtime.temporal import (
    TemporalUnavailable,
    connect,
    require_search_attributes,
    start_dev_server,
)
from settings import Settings, SettingsError, mark_demo
from workflows.referral import ReferralWorkflow
from workflows.scheduled import PauseSweepWorkflow, WeeklyReportWorkflow
from workflows.webhooks import WebhookDeliveryWorkflow

if TYPE_CHECKING:
    from runtime.codec_server import Background

log = logging.getLogger("fasttrack.worker")

# On stop, let running activities finish (an email mid-send would otherwise be sent twice).
GRACEFUL_SHUTDOWN = timedelta(seconds=30)


def build_activities(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    mail_pool: MailPool | None = None,
) -> list[Any]:
    matching = MatchingActivities(sessions, settings)
    directory = DirectoryActivities(sessions)
    email = EmailActivities(settings, EmailOutbox(sessions), mail_pool)
    read_model = ReferralReadModel(sessions, max(1, settings.ranking_window.days))
    publish = PublishActivities(sessions, read_model, email, partner_view)
    operations = OperationsActivities(settings, sessions)
    webhooks = WebhookActivities(WebhookStore(sessions, Sealer.for_settings(settings)), email)
    return [
        webhooks.deliver_webhook,
        webhooks.webhook_gave_up,
        matching.match_partner,
        directory.grant_capacity_decline,
        directory.record_cpor_claim,
        email.send_email,
        publish.publish_changes,
        operations.send_weekly_report,
        operations.resume_expired_pauses,
    ]


WORKFLOWS = (ReferralWorkflow, WeeklyReportWorkflow, PauseSweepWorkflow, WebhookDeliveryWorkflow)

# Modules the workflow code imports that hold no workflow code (pure rules, types, constants),
# loaded once rather than re-imported into every workflow's sandbox. The workflow code
# (`workflows.referral`, `publisher`, `metrics`, `scheduled`) is re-imported with the restricted
# `datetime`, `random`…, so a non-deterministic call in it fails the workflow task. Each
# re-import reads its bytecode: without it (PYTHONDONTWRITEBYTECODE=1 on a source checkout)
# every new workflow compiles these modules again (bench/README.md); pip install writes it.
PASSED_THROUGH = (
    "domain",
    "workflows.search_attributes",
    "workflows.activity_options",
)
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH)
)


def build_worker(
    client: Client,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    **options: Any,
) -> Worker:
    pool = MailPool()
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=list(WORKFLOWS),
        activities=build_activities(settings, sessions, pool),
        activity_executor=ThreadPoolExecutor(max_workers=settings.activity_threads),
        workflow_runner=WORKFLOW_RUNNER,
        plugins=[_closing(pool)],
        **{"graceful_shutdown_timeout": GRACEFUL_SHUTDOWN, **options},
    )


def _closing(pool: MailPool) -> SimplePlugin:
    """Around the worker's run: QUIT the SMTP connections it kept once it has stopped."""

    @contextlib.asynccontextmanager
    async def kept_connections() -> AsyncIterator[None]:
        try:
            yield
        finally:
            await pool.close()

    return SimplePlugin("fasttrack.mail-pool", run_context=kept_connections)


async def run(settings: Settings, dev: bool, **worker_options: Any) -> None:
    env = None
    engine: AsyncEngine | None = None
    codec: Background | None = None  # the dev-mode codec server
    try:
        runtime, metrics_at = runtime_from_env(logging=core_logging(settings))
        if dev:
            print("starting the Temporal dev server (state: var/temporal.db) ...", flush=True)
            # the UI shows decrypted payloads; a web app only `--dev` needs, so imported here
            from runtime.codec_server import codec_in_background

            codec, codec_at = codec_in_background(settings)
            env = await start_dev_server(settings, runtime=runtime, codec_endpoint=codec_at)
            client = env.client
            print(
                f"Temporal dev server on {settings.temporal_address}, "
                f"Web UI on http://localhost:8233 (payloads decrypted by {codec_at})",
                flush=True,
            )
        else:
            client = await connect(settings, runtime=runtime)
            await require_search_attributes(client, settings.temporal_namespace)
        engine, sessions = await open_database(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        await MatchingActivities(sessions, settings).warm_up()
        worker = build_worker(client, settings, sessions, **worker_options)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        async with worker, serve_worker_health(client, sessions, settings):
            print(
                f"worker polling task queue '{settings.task_queue}' "
                f"(namespace '{settings.temporal_namespace}'); Ctrl-C to stop",
                flush=True,
            )
            await _announce_schedules(client, settings)
            if metrics_at:
                print(f"metrics for Prometheus on http://{metrics_at}/metrics", flush=True)
            await stop.wait()
        print("worker stopped", flush=True)
    finally:
        if engine is not None:
            await engine.dispose()
        if codec is not None:
            await codec.stop()
        if env is not None:
            await env.shutdown()


async def _announce_schedules(client: Client, settings: Settings) -> None:
    """Create or update the operations schedules; a failure is reported, not fatal."""
    try:
        for schedule_id in await ensure_schedules(client, settings):
            print(describe(schedule_id), flush=True)
    except RPCError as err:
        print(f"worker: cannot create or update the schedules: {err}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="FastTrack referral worker")
    parser.add_argument(
        "--dev", action="store_true", help="start an embedded Temporal dev server first"
    )
    parser.add_argument(
        "--max-cached-workflows",
        type=int,
        default=None,
        metavar="N",
        help="sticky workflow cache size (0 replays every workflow task from history)",
    )
    args = parser.parse_args(argv)
    options = {}
    if args.max_cached_workflows is not None:
        options["max_cached_workflows"] = max(0, args.max_cached_workflows)
    try:
        settings = Settings.from_env(demo=args.dev)  # --dev: the embedded defaults serve
        configure_logging(settings, "WARNING")
        if args.dev:
            mark_demo(settings.home)
        # uvloop: a faster event loop for the worker's many small tasks (bench/README.md)
        uvloop.run(run(settings, args.dev, **options))
    except (SettingsError, TemporalUnavailable, DatabaseUnavailable, MetricsUnavailable) as err:
        print(f"worker: {err}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
