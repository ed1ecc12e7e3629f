"""The stuck-referral watchdog: the pure rule (`domain.watchdog`) and the read model's rows it
judges (`db.stuck`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from db.engine import open_database
from db.readmodel import ReferralReadModel
from db.reports import build_report
from db.stuck import stuck_referrals
from domain import watchdog
from domain.models import Milestones, Outcome, PartRef, Status
from domain.watchdog import GRACE, Watched, stuck, waits_until
from mail.weekly_report import compose_report
from settings import Settings
from tests.dbfixtures import T0, Database, assignment, event, snapshot
from tests.harness import Harness
from tests.test_portal_pages import OPERATOR, sign_in, web  # noqa: F401 (web: a fixture)

ROOT = Path(__file__).resolve().parent.parent

LATE = GRACE + timedelta(minutes=1)


def test_a_pending_referral_waits_until_its_answer_is_due() -> None:
    state = snapshot("FT-W", assignments=[assignment(1, "100")]).state
    assert waits_until(state) == T0 + timedelta(days=2)


def test_a_referral_still_being_notified_waits_as_long_as_the_delivery_is_retried() -> None:
    state = snapshot("FT-W", assignments=[assignment(1, "100", due_at=None)]).state
    assert waits_until(state) == T0 + watchdog.NOTIFYING_LIMIT


def test_a_referral_between_assignments_should_move_at_once() -> None:
    state = snapshot(
        "FT-W",
        assignments=[assignment(1, "100", Outcome.EXPIRED)],
        history=[event(0, "created"), event(5, "expired")],
    ).state
    assert waits_until(state) == T0 + timedelta(minutes=5)


def test_an_engagement_waits_for_contact_then_on_the_partner_without_deadline() -> None:
    due = T0 + timedelta(days=3)
    state = snapshot(
        "FT-W",
        Status.ACTIVE,
        [assignment(1, "100", Outcome.ACCEPTED)],
        milestones=Milestones(contact_due_at=due),
    ).state
    assert waits_until(state) == due
    state.milestones.contacted_at = T0 + timedelta(days=1)
    assert waits_until(state) is None


def test_escalated_split_and_closed_referrals_have_no_deadline_of_their_own() -> None:
    for status in (Status.ESCALATED, Status.SPLIT, Status.COMPLETED, Status.CANCELLED):
        assert waits_until(snapshot("FT-W", status).state) is None


def test_a_referral_is_stuck_only_once_past_its_deadline_by_more_than_the_grace() -> None:
    row = Watched("FT-W", Status.PENDING, T0)
    assert stuck(row, [], T0 + GRACE) is None
    why = stuck(row, [], T0 + LATE)
    assert why == "waiting past its deadline 2026-03-02 09:00 UTC"
    assert stuck(Watched("FT-W", Status.ACTIVE, None), [], T0 + timedelta(days=99)) is None


def test_a_split_referral_is_stuck_once_every_part_has_closed_and_it_has_not() -> None:
    parent = Watched("FT-W", Status.SPLIT, None)
    done = Watched("FT-W.part1", Status.COMPLETED, None, closed_at=T0)
    still_active = Watched("FT-W.part2", Status.ACTIVE, None)
    cancelled = Watched("FT-W.part2", Status.CANCELLED, None, closed_at=T0 - timedelta(hours=1))
    assert stuck(parent, [done, still_active], T0 + timedelta(days=9)) is None
    assert stuck(parent, [done, cancelled], T0 + GRACE) is None
    why = stuck(parent, [done, cancelled], T0 + LATE)
    assert why == "every part closed by 2026-03-02 09:00 UTC, but the referral is still open"
    assert stuck(Watched("FT-W", Status.ESCALATED, None), [], T0 + timedelta(days=9)) is None


def test_a_split_referral_is_stuck_when_a_part_has_not_started_long_after_the_split() -> None:
    parent = Watched("FT-W", Status.SPLIT, None)
    done = Watched("FT-W.part1", Status.COMPLETED, None, closed_at=T0)
    unstarted = Watched("FT-W.part2", "", T0)
    assert stuck(parent, [done, unstarted], T0 + GRACE) is None
    why = stuck(parent, [done, unstarted], T0 + LATE)
    assert why == "FT-W.part2 has not started since 2026-03-02 09:00 UTC"


async def test_the_read_model_lists_a_late_referral_and_a_split_whose_parts_all_closed(
    database: Database,
) -> None:
    rm = ReferralReadModel(database.sessionmaker)
    await rm.sync(snapshot("FT-LATE", assignments=[assignment(1, "100")]), now=T0)
    await rm.sync(
        snapshot("FT-FINE", assignments=[assignment(1, "100", due_at=T0 + timedelta(days=30))])
    )
    parts = [PartRef(f"FT-SPLIT.part{n}", ["teams"], Status.ACTIVE) for n in (1, 2)]
    await rm.sync(snapshot("FT-SPLIT", Status.SPLIT, parts=parts), now=T0)
    for n in (1, 2):
        done = [event(0, "created"), event(60, "completed")]
        part = snapshot("FT-SPLIT", Status.COMPLETED, history=done, parent_id="FT-SPLIT")
        part.state.workflow_id = f"FT-SPLIT.part{n}"
        await rm.sync(part, now=T0)

    lonely = [PartRef(f"FT-ALONE.part{n}", ["teams"], "") for n in (1, 2)]
    await rm.sync(snapshot("FT-ALONE", Status.SPLIT, parts=lonely), now=T0 + timedelta(days=9))

    due = T0 + timedelta(days=2)
    assert [s.row.workflow_id for s in await stuck_referrals(database.sessionmaker, due)] == [
        "FT-SPLIT"
    ]
    found = await stuck_referrals(database.sessionmaker, due + LATE)
    assert [(s.row.workflow_id, s.why) for s in found] == [
        ("FT-LATE", "waiting past its deadline 2026-03-04 09:00 UTC"),
        ("FT-SPLIT", "every part closed by 2026-03-02 10:00 UTC, but the referral is still open"),
    ]
    later = await stuck_referrals(database.sessionmaker, T0 + timedelta(days=9) + LATE)
    assert ("FT-ALONE", "FT-ALONE.part1 has not started since 2026-03-11 09:00 UTC") in [
        (s.row.workflow_id, s.why) for s in later
    ]


# -- every path shows them: the CLI, the Escalations page, the weekly report ---------------


async def _one_stuck_referral(sessions: Any) -> None:
    """FT-STUCK's answer was due in 2026-03: long past."""
    await ReferralReadModel(sessions).sync(
        snapshot("FT-STUCK", assignments=[assignment(1, "100")]), now=T0
    )


async def test_referral_list_stuck_prints_them_with_why_from_the_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    engine, sessions = await open_database(url)
    await _one_stuck_referral(sessions)
    await engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "DATABASE_"))}
    env |= {"TEMPORAL_ADDRESS": "127.0.0.1:1", "DATABASE_URL": url}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(ROOT / "starter.py"), "referral", "list", *args]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)

    listed = cli("--stuck", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row["referral_id"] == "FT-STUCK" and row["status"] == "pending"
    assert row["stuck"] == "waiting past its deadline 2026-03-04 09:00 UTC"
    assert {"partner", "country", "workloads", "sla_due_at", "parent"} <= row.keys()
    text = cli("--stuck")
    assert "FT-STUCK" in text.stdout and "waiting past its deadline" in text.stdout
    assert json.loads(cli("--stuck", "--json", "--status", "active").stdout) == []
    refused = cli("--stuck", "--overdue")
    assert refused.returncode == 2 and "--stuck cannot be combined" in refused.stderr


async def test_the_escalations_page_shows_stuck_referrals(
    h: Harness,
    web: httpx.AsyncClient,  # noqa: F811 (the fixture imported above)
) -> None:
    await _one_stuck_referral(h.sessions)
    assert await sign_in(h, web, OPERATOR) == "/ops/escalations"
    page = await web.get("/ops/escalations")
    assert page.status_code == 200
    assert "FT-STUCK" in page.text and "waiting past its deadline 2026-03-04 09:00" in page.text


async def test_the_weekly_report_lists_stuck_referrals(database: Database) -> None:
    await _one_stuck_referral(database.sessionmaker)
    now = T0 + timedelta(days=7)
    report = await build_report(database.sessionmaker, T0 - timedelta(days=7), now)
    why = "waiting past its deadline 2026-03-04 09:00 UTC"
    assert report.stuck == [{"referral_id": "FT-STUCK", "status": "pending", "why": why}]
    mail = compose_report(report, T0 - timedelta(days=7), {}, Settings(), "run-1")
    assert f"FT-STUCK (pending): {why}" in mail.text
    assert "FT-STUCK" in mail.html and why in mail.html
