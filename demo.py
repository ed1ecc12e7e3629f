"""`make demo`: the whole product on one machine with embedded defaults.

Starts a local SMTP sink (messages saved under var/mail/), the Temporal dev server (Web UI on
:8233, state in var/temporal.db), a worker, imports the sample partner directory and creates
the sample referrals, then prints where to look. Runs until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import uvloop
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.audit import Actor
from db.claims import ClaimStore
from db.directory import PartnerDirectory
from db.engine import DatabaseUnavailable, open_database
from db.readmodel import ReferralReadModel
from db.tokens import TokenStore
from db.webhooks import WebhookStore
from domain.claims import load_claim_lines
from domain.ownership import program_update
from domain.validation import load_partners, load_referrals
from portal.app import create_app
from runtime.codec_server import (
    Background,
    codec_in_background,
    codec_url,
    serve_in_background,
)
from runtime.intake import start_referral
from runtime.schedules import describe, ensure_schedules
from runtime.sealing import Sealer
from runtime.smtp_sink import MailSink
from runtime.temporal import TemporalUnavailable, start_dev_server
from runtime.webhook_receiver import WebhookReceiver
from runtime.webhooks import subscribe
from settings import (
    Settings,
    SettingsError,
    mark_demo,
    parse_duration,
)
from worker import build_worker

DEMO_SLA = "3m"
DEMO_PARTNER = "4711005"  # eligible for the first sample referral


def demo_settings() -> Settings:
    settings = Settings.from_env(demo=True)
    if settings.sla_override is None and not os.environ.get("SLA_BUSINESS_DAYS"):
        settings = replace(settings, sla_override=parse_duration(DEMO_SLA))
    if not settings.operator_emails:  # the demo's operator signs in to /ops as OPS_EMAIL
        settings = replace(settings, operator_emails=(settings.ops_email.lower(),))
    if "WEBHOOK_ALLOW_INSECURE" not in os.environ:  # the demo's receiver: http on 127.0.0.1
        settings = replace(settings, webhook_allow_insecure=True)
    if not os.environ.get("PORTAL_URL"):  # one host: a cookie set on it is sent to the links
        portal = f"http://{settings.portal_host}:{settings.portal_port}"
        settings = replace(settings, portal_url=portal)
    return settings


async def seed_partners(
    sessions: async_sessionmaker[AsyncSession], data_dir: Path, actor: Actor
) -> tuple[int, int]:
    """The sample partners, imported as `partners import` does: a restart keeps what partners
    changed in the demo's portal. Returns (created, updated)."""
    partners = load_partners((data_dir / "partners.json").read_text(encoding="utf-8"))
    return await PartnerDirectory(sessions).upsert(
        partners, datetime.now(UTC), actor, merge=program_update
    )


async def subscribe_demo_receiver(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], demo: Actor
) -> WebhookReceiver:
    """A local receiver for the demo partner's events (the previous run's subscription,
    pointing at a receiver that is gone, is replaced)."""
    receiver = WebhookReceiver().start()
    store = WebhookStore(sessions, Sealer.for_settings(settings))
    now = datetime.now(UTC)
    for old in await store.list(DEMO_PARTNER):
        if old.created_by == demo.who:
            await store.remove(old.id, demo, now)
    _, receiver.secret = await subscribe(store, settings, DEMO_PARTNER, receiver.url, "", demo, now)
    return receiver


async def run() -> None:
    settings = demo_settings()
    mark_demo(settings.home)
    mail_dir = settings.var_dir / "mail"
    sink = MailSink(directory=mail_dir)
    await sink.start(
        settings.smtp_host if settings.smtp_host != "localhost" else "127.0.0.1", settings.smtp_port
    )
    print(
        f"SMTP sink on {settings.smtp_host}:{settings.smtp_port}, saving to {mail_dir}/", flush=True
    )
    print("starting the Temporal dev server (state in var/temporal.db) ...", flush=True)
    env = await start_dev_server(settings, codec_endpoint=codec_url(settings))
    engine, sessions = await open_database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    servers: list[Background] = []
    try:
        demo = Actor("system:demo", "demo sample data")
        created, updated = await seed_partners(sessions, settings.data_dir, demo)
        print(f"partner directory: {created} created, {updated} updated", flush=True)
        now = datetime.now(UTC)
        claims = load_claim_lines(
            (settings.data_dir / "claims.jsonl").read_text(encoding="utf-8"), now
        )
        counts = await ClaimStore(sessions).import_claims(claims, now, demo)
        print(f"CPOR claims: {counts.created} created, {counts.updated} updated", flush=True)
        worker = build_worker(env.client, settings, sessions)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        portal = create_app(settings, env.client, sessions)
        servers = [
            serve_in_background(portal, settings.portal_host, settings.portal_port),
            codec_in_background(settings)[0],
        ]
        async with worker:
            for schedule_id in await ensure_schedules(env.client, settings):
                print(describe(schedule_id), flush=True)
            receiver = await subscribe_demo_receiver(settings, sessions, demo)
            ids = await create_samples(env.client, settings, ReferralReadModel(sessions))
            token = await TokenStore(sessions).issue(DEMO_PARTNER, datetime.now(UTC), demo)
            print_guide(settings, ids, token)
            print(
                f" Webhooks: partner {DEMO_PARTNER}'s signed events go to {receiver.url};\n"
                f"   see what arrived (and whether each signature verified) at "
                f"{receiver.url.removesuffix('/hook')}/\n"
                "   and the deliveries on the portal's Integrations page.",
                flush=True,
            )
            await stop.wait()
    finally:
        print("\nstopping ...", flush=True)
        await asyncio.gather(*(server.stop() for server in servers))
        await engine.dispose()
        await env.shutdown()
        await sink.stop()


async def create_samples(
    client: object, settings: Settings, readmodel: ReferralReadModel
) -> list[str]:
    from temporalio.client import Client

    assert isinstance(client, Client)
    ids = []
    for ref in load_referrals((settings.data_dir / "referrals.json").read_text(encoding="utf-8")):
        if await start_referral(client, settings.task_queue, ref, readmodel):
            print(f"referral {ref.referral_id} created", flush=True)
        else:
            print(
                f"referral {ref.referral_id} already exists (kept from an earlier run)", flush=True
            )
        ids.append(ref.referral_id)
    return ids


def print_guide(settings: Settings, ids: list[str], token: str) -> None:
    sla = settings.sla_override
    rid = ids[0] if ids else "FT-..."
    py = _cli_command()
    print(
        f"""
=====================================================================
 FastTrack referrals demo is running.
   Temporal Web UI : http://localhost:8233  (workflows = referrals; payloads are
                     encrypted, decrypted for the UI by the codec server on :{settings.codec_port})
   Web portal      : {settings.portal_url}/  (sign in as a
                     partner's referral contact, or as operator
                     {", ".join(settings.operator_emails)}; the link arrives in var/mail)
   Partner API     : {settings.portal_url}/docs
                     token for partner {DEMO_PARTNER}: {token}
   Mail received   : var/mail/*.eml  (one line per message above/below)
   Database        : {settings.database_url}
 DEMO MODE: SLA_OVERRIDE={int(sla.total_seconds()) if sla else 0}s replaces the 2-business-day
   window, so unanswered referrals expire and are reassigned within minutes.
 Try (in another terminal of this checkout; it uses the demo's defaults):
   {py} referral list
   {py} referral show {rid}
   {py} referral accept {rid} --partner <partner from 'show'>
   {py} referral decline {rid} --partner <partner> --reason customer_unresponsive
   {py} partners list
   {py} report --html var/report.html
   curl -H "Authorization: Bearer {token}" {settings.portal_url}/api/referrals
 Ctrl-C stops everything (state is kept in var/).
=====================================================================""",
        flush=True,
    )


def _cli_command() -> str:
    """The installed `fasttrack` beside this interpreter (as `make` installs it), shown relative
    to the working directory when it is below it; else `python starter.py`."""
    beside = Path(sys.executable).parent / "fasttrack"
    if not beside.is_file():
        return "python starter.py"
    with contextlib.suppress(ValueError):
        return str(beside.relative_to(Path.cwd()))
    return str(beside)


def main() -> int:
    try:
        uvloop.run(run())
    except KeyboardInterrupt:
        return 0
    except (SettingsError, TemporalUnavailable, DatabaseUnavailable, OSError) as err:
        print(f"demo: {err}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
