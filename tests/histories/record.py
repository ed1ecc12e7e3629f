"""Record one real workflow history per lifecycle path, for replay tests.

    .venv/bin/python -m tests.histories.record

Runs each path on the time-skipping test server with the real worker, a temporary SQLite
database and a local SMTP sink, and writes `tests/histories/<path>.<TAG>.json`. Payloads go
through the worker's encrypting data converter with the fixed test key kept beside them
(`KEY_FILE`), so replaying them exercises decryption as production does. The saved
files are the proof that the code still replays what running workflows recorded (README,
"Versioning"): after a release, record new files under a new TAG and keep the old ones.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client

from db.engine import open_database
from runtime.codec import converter_for
from runtime.smtp_sink import MailSink
from runtime.temporal import start_test_server
from settings import Settings
from tests.factories import partner, referral
from tests.harness import Harness, harness_settings
from worker import build_worker
from workflows.scheduled import PauseSweepWorkflow, WeeklyReportWorkflow

HERE = Path(__file__).parent
KEY_FILE = HERE / "test-payload-key.json"  # a test key, for these recordings only
IDS_FILE = HERE / "workflow-ids.json"  # each history's workflow id: a replay runs under it
# The workflow version the recordings belong to.
TAG = "v1"


def mail_of(kind: str) -> Callable[[Any], bool]:
    return lambda m: str(m["X-FastTrack-Kind"]) == kind


async def engagement(h: Harness, handle: Any, who: str) -> list[str]:
    """Every milestone after acceptance, then completion."""
    await h.act(handle, "contacted", who)
    await h.act(handle, "kickoff", who)
    await h.act(handle, "cpor_claimed", who)
    await h.act(handle, "complete", who, vas_sold=True, vas_value=5000.0, notes="done")
    await handle.result()
    return [handle.id]


async def accept_complete(h: Harness) -> list[str]:
    await h.partners(partner("1001"))
    handle = await h.start(referral("FT-H-ACCEPT"))
    who = await h.assigned(handle)
    await h.wait_mail(mail_of("team_assigned"))
    await h.act(handle, "accept", who)
    await h.wait_mail(mail_of("team_accepted"))
    return await engagement(h, handle, who)


async def decline_reassign(h: Harness) -> list[str]:
    await h.partners(partner("1001"), partner("1002"))
    handle = await h.start(referral("FT-H-DECLINE"))
    first = await h.assigned(handle)
    await h.act(handle, "decline", first, reason="customer_unresponsive")
    second = await h.assigned(handle, seq=2)
    await h.act(handle, "accept", second)
    await h.act(handle, "complete", second, vas_sold=False)
    await handle.result()
    return [handle.id]


async def expiry(h: Harness) -> list[str]:
    await h.partners(partner("1001"), partner("1002"))
    handle = await h.start(referral("FT-H-EXPIRY"))
    await h.assigned(handle)
    await skip_to(h, (await h.state(handle)).assignments[0].due_at)
    second = await h.assigned(handle, seq=2)
    await h.act(handle, "accept", second)
    await h.act(handle, "complete", second, vas_sold=False)
    await handle.result()
    return [handle.id]


async def split(h: Harness) -> list[str]:
    await h.partners(
        partner("2001", workloads=["teams"]), partner("2003", workloads=["sharepoint"])
    )
    handle = await h.start(referral("FT-H-SPLIT"))
    state = await h.until(handle, lambda s: len(s.parts) == 2)
    ids = [handle.id]
    for part in state.parts:
        part_handle = h.client.get_workflow_handle(part.workflow_id)
        who = await h.assigned(part_handle)
        await h.act(part_handle, "accept", who)
        await h.act(part_handle, "complete", who, vas_sold=False)
        ids.append(part.workflow_id)
    await handle.result()
    return ids


async def escalate_retry(h: Harness) -> list[str]:
    handle = await h.start(referral("FT-H-ESCALATE"))
    await h.until(handle, lambda s: s.status == "escalated")
    await h.partners(partner("1001"))
    await h.operate(handle, "retry", "directory fixed")
    who = await h.assigned(handle)
    await h.act(handle, "accept", who)
    await h.act(handle, "complete", who, vas_sold=False)
    await handle.result()
    return [handle.id]


async def cancel(h: Harness) -> list[str]:
    await h.partners(partner("1001"))
    handle = await h.start(referral("FT-H-CANCEL"))
    await h.assigned(handle)
    await h.operate(handle, "cancel", "customer withdrew")
    await handle.result()
    return [handle.id]


async def contact_overdue(h: Harness) -> list[str]:
    await h.partners(partner("1001"))
    handle = await h.start(referral("FT-H-OVERDUE"))
    who = await h.assigned(handle)
    await h.act(handle, "accept", who)
    state = await h.until(handle, lambda s: s.milestones.contact_due_at is not None)
    await skip_to(h, state.milestones.contact_due_at)
    await h.until(handle, lambda s: s.milestones.contact_overdue)
    return await engagement(h, handle, who)


async def decline_after_accept(h: Harness) -> list[str]:
    await h.partners(partner("1001"), partner("1002"))
    handle = await h.start(referral("FT-H-LATEDECLINE"))
    first = await h.assigned(handle)
    await h.act(handle, "accept", first)
    await h.act(handle, "decline", first, reason="legal_or_political")
    second = await h.assigned(handle, seq=2)
    await h.act(handle, "accept", second)
    await h.act(handle, "complete", second, vas_sold=False)
    await handle.result()
    return [handle.id]


async def weekly_report(h: Harness) -> list[str]:
    handle = await h.client.start_workflow(
        WeeklyReportWorkflow.run, id="weekly-report-H", task_queue=h.settings.task_queue
    )
    await handle.result()
    return [handle.id]


async def pause_sweep(h: Harness) -> list[str]:
    await h.partners(partner("1001", paused_until=date(2026, 1, 1)))
    handle = await h.client.start_workflow(
        PauseSweepWorkflow.run, id="pause-sweep-H", task_queue=h.settings.task_queue
    )
    await handle.result()
    return [handle.id]


async def skip_to(h: Harness, when: datetime | None) -> None:
    assert when is not None
    await h.env.sleep(when - await h.env.get_current_time() + timedelta(minutes=1))


PATHS: dict[str, Callable[[Harness], Awaitable[list[str]]]] = {
    "accept_complete": accept_complete,
    "decline_reassign": decline_reassign,
    "expiry": expiry,
    "split": split,
    "escalate_retry": escalate_retry,
    "cancel": cancel,
    "contact_overdue": contact_overdue,
    "decline_after_accept": decline_after_accept,
    "weekly_report": weekly_report,
    "pause_sweep": pause_sweep,
}


def encrypting_client(client: Client, settings: Settings) -> Client:
    """`client`'s connection with the worker's data converter (`runtime.codec`)."""
    config = client.config()
    config["data_converter"] = converter_for(settings)
    return Client(**config)


async def main() -> None:
    env = await start_test_server()
    sink = MailSink(directory=None, echo=False)
    await sink.start("127.0.0.1", 0)
    recorded: dict[str, str] = {}
    try:
        for name, path in PATHS.items():
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite+aiosqlite:///{tmp}/record.db"
                settings = harness_settings(Settings(payload_key_file=KEY_FILE), url, sink.port)
                engine, sessions = await open_database(url)
                client = encrypting_client(env.client, settings)
                worker = build_worker(client, settings, sessions)
                async with worker:
                    h = Harness(env, settings, sessions, sink, worker, name, own_client=client)
                    ids = await path(h)
                    for number, wid in enumerate(ids):
                        history = await client.get_workflow_handle(wid).fetch_history()
                        suffix = "" if number == 0 else f".part{number}"
                        out = HERE / f"{name}{suffix}.{TAG}.json"
                        out.write_text(history.to_json())
                        recorded[out.stem] = wid
                        print(f"recorded {out.relative_to(HERE.parent.parent)}")
                await engine.dispose()
        IDS_FILE.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    finally:
        await sink.stop()
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
