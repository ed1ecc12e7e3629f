"""Rules the workflow shares with other paths: when reminders fire (`domain.reminders`), the
deadline the notification states, and what "time to accept" means (`domain.acceptance`)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from db.exports import assignment_rows
from db.portal_queries import Filters, PortalQueries, weekly_trends
from db.readmodel import ReferralReadModel
from db.reports import build_report
from domain import transitions as t
from domain.acceptance import answered_in_time, time_to_accept
from domain.business_days import is_business_day
from domain.deadlines import compute_deadline
from domain.models import HistoryEntry, Milestones, Outcome, SlaTerms, Status
from domain.overdue import is_overdue
from domain.reminders import reminder_at
from domain.report import last_week, week_start
from mail import formats, i18n
from mail.compose import LINK_LIFETIME
from mail.weekly_report import compose_report
from settings import Settings
from tests.dbfixtures import T0, Database, assignment, event, snapshot
from tests.factories import partner, referral
from tests.harness import Harness
from tests.test_cli_unit import run  # noqa: F401  (the `run` fixture)
from tests.test_exports import parse
from tests.test_portal import eventually

BERLIN = ZoneInfo("Europe/Berlin")


def _berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def test_a_friday_afternoon_notification_reminds_at_the_start_of_tuesday_not_on_sunday() -> None:
    start = _berlin(2026, 3, 6, 15, 0)  # Friday
    due = compute_deadline(start, "DE", "Europe/Berlin", SlaTerms(business_days=2)).due_at
    assert due == _berlin(2026, 3, 10, 15, 0)
    assert reminder_at(start, due, "DE", "Europe/Berlin") == _berlin(2026, 3, 10, 0, 0)


def test_reminders_skip_holidays_and_a_window_shorter_than_a_business_day_gets_none() -> None:
    start = _berlin(2026, 12, 23, 15, 0)  # Wednesday before Christmas
    due = compute_deadline(start, "DE", "Europe/Berlin", SlaTerms(business_days=2)).due_at
    assert due == _berlin(2026, 12, 28, 15, 0)  # 24th is a business day, 25th/26th are not
    assert reminder_at(start, due, "DE", "Europe/Berlin") == _berlin(2026, 12, 28, 0, 0)
    due_at_midnight = _berlin(2026, 12, 29, 0, 0)
    assert reminder_at(start, due_at_midnight, "DE", "Europe/Berlin") == _berlin(2026, 12, 28)
    short = compute_deadline(start, "DE", "Europe/Berlin", SlaTerms(override_seconds=30))
    assert reminder_at(start, short.due_at, "DE", "Europe/Berlin") is None
    evening = _berlin(2026, 3, 9, 18, 0)  # Monday evening to Tuesday 09:00: 15 business hours
    assert reminder_at(evening, _berlin(2026, 3, 10, 9, 0), "DE", "Europe/Berlin") is None
    friday_night = _berlin(2026, 3, 6, 23, 0)  # to Monday 01:00: 2 business hours
    assert reminder_at(friday_night, _berlin(2026, 3, 9, 1, 0), "DE", "Europe/Berlin") is None
    day_long = _berlin(2026, 3, 9, 9, 0)  # Monday 09:00 to Tuesday 09:00: one business day
    assert reminder_at(day_long, _berlin(2026, 3, 10, 9, 0), "DE", "Europe/Berlin") == _berlin(
        2026, 3, 10
    )
    assert (
        reminder_at(_berlin(2026, 3, 10, 1), _berlin(2026, 3, 10, 9), "DE", "Europe/Berlin") is None
    )
    for day in range(1, 32):
        start = _berlin(2026, 12, day, 16, 0)
        due = compute_deadline(start, "DE", "Europe/Berlin", SlaTerms()).due_at
        remind = reminder_at(start, due, "DE", "Europe/Berlin")
        assert remind is not None and is_business_day(remind.astimezone(BERLIN).date(), "DE")


@pytest.mark.own_test_server
async def test_the_workflow_reminds_when_the_rule_says(h: Harness) -> None:
    await h.partners(partner("1001"))
    handle = await h.start(referral("FT-T-REMIND"))
    await h.assigned(handle)
    a = (await h.state(handle)).assignments[0]
    assert a.notified_at is not None and a.due_at is not None
    expected = reminder_at(a.notified_at, a.due_at, "DE", "Europe/Berlin")
    assert expected is not None
    await h.env.sleep(expected - await h.env.get_current_time() + timedelta(minutes=1))
    state = await h.until(handle, lambda s: any(e.action == "reminded" for e in s.history))
    at = next(e.at for e in state.history if e.action == "reminded")
    assert timedelta(0) <= at - expected < timedelta(minutes=1)


@pytest.mark.own_test_server
async def test_the_contact_reminder_comes_when_the_rule_says(h: Harness) -> None:
    await h.partners(partner("1001"))
    handle = await h.start(referral("FT-T-CONTACT-REMIND"))
    mpn = await h.assigned(handle)
    await h.act(handle, "accept", mpn)
    state = await h.until(handle, lambda s: s.milestones.contact_due_at is not None)
    a, due = state.assignments[0], state.milestones.contact_due_at
    assert a.accepted_at is not None and due is not None
    expected = reminder_at(a.accepted_at, due, "DE", "Europe/Berlin")
    assert expected is not None
    await h.env.sleep(expected - await h.env.get_current_time() + timedelta(minutes=1))
    state = await h.until(handle, lambda s: any("contact reminder" in e.detail for e in s.history))
    at = next(e.at for e in state.history if "contact reminder" in e.detail)
    assert timedelta(0) <= at - expected < timedelta(minutes=1)


def _link_expiry(text: str) -> datetime:
    token = re.findall(r"/act/([A-Za-z0-9_\-]+)\.", text)[0]
    raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    return datetime.fromtimestamp(int(raw["e"]), tz=UTC)


def _body(msg: object) -> str:
    part = msg.get_body(("plain",))  # type: ignore[attr-defined]
    return str(part.get_content())


async def test_after_a_mail_outage_the_notification_states_the_deadline_in_force(
    h: Harness,
) -> None:
    country, tz = _working_today()  # on a day off every start gives the same deadline
    await h.partners(partner("1001", home_country=country, countries=["DE"], timezone=tz))
    port = h.sink.port
    await h.sink.stop()
    try:
        handle = await h.start(referral("FT-T-OUTAGE"))
        await h.until(handle, lambda s: s.waiting_for.startswith("notifying"))
        await eventually(_seconds_passed(6))  # the first retry (after 5 s) failed too
    finally:
        await h.sink.start("127.0.0.1", port)
    to_partner = await h.wait_mail(lambda m: "referrals-1001" in str(m["To"]), timeout=60)
    to_team = await h.wait_mail(lambda m: "ae@microsoft.example" in str(m["To"]), timeout=60)
    state = await h.until(handle, lambda s: s.assignments[0].due_at is not None, timeout=60)
    a = state.assignments[0]
    assert a.due_at is not None and a.notified_at is not None
    with i18n.using("en"):  # the partner's and the program's language in this test
        stated = formats.moment_long(a.due_at, tz)
    assert _link_expiry(_body(to_partner)) == (a.due_at + LINK_LIFETIME).replace(microsecond=0)
    assert stated in _body(to_partner) and stated in _body(to_team)


async def test_a_partner_that_answers_during_a_mail_outage_is_not_notified_after(
    h: Harness,
) -> None:
    """Accepted in the portal while the notification waits for the mail server: no
    notification afterwards, no answer clock, and time to accept runs from the assignment
    (never negative)."""
    await h.partners(partner("1001"))
    port = h.sink.port
    await h.sink.stop()
    try:
        handle = await h.start(referral("FT-T-OUTAGE-ACCEPT"))
        state = await h.until(handle, lambda s: s.waiting_for.startswith("notifying"))
        await h.act(handle, "accept", state.assignments[0].partner)
        await eventually(_seconds_passed(6))  # past the first retry's time (5 s)
    finally:
        await h.sink.start("127.0.0.1", port)
    await h.wait_mail(lambda m: str(m["X-FastTrack-Kind"]) == "team_accepted", timeout=60)
    state = await h.state(handle)
    a = state.assignments[0]
    assert a.outcome == Outcome.ACCEPTED and a.notified_at is None and a.due_at is None
    actions = [e.action for e in state.history]
    assert "notified" not in actions[actions.index("accepted") :]
    kinds = [str(m["X-FastTrack-Kind"]) for m in h.mails(to="referrals-1001")]
    assert "notification" not in kinds
    summary = t.summary(state, datetime.now(UTC))
    assert a.accepted_at is not None
    assert summary.time_to_accept_seconds == (a.accepted_at - a.assigned_at).total_seconds()


def _working_today() -> tuple[str, str]:
    """A partner's country and time zone where it is a business day now. Between them they
    cover every hour of a weekend: Friday lasts until Saturday 11:00 UTC in Pago Pago, and
    Israel's Sunday, a business day, starts Saturday 10:00 UTC in Kiritimati. Only a few
    holidays falling together leave none (Christmas, Rosh Hashanah on a weekend)."""
    now = datetime.now(UTC)
    for country, tz in (
        ("DE", "Europe/Berlin"),
        ("IL", "Asia/Jerusalem"),
        ("US", "UTC"),
        ("GB", "Pacific/Pago_Pago"),
        ("IL", "Pacific/Kiritimati"),
    ):
        if is_business_day(now.astimezone(ZoneInfo(tz)).date(), country):
            return country, tz
    pytest.skip("no business day now for any of these partners")


def _seconds_passed(seconds: float) -> Callable[[], Awaitable[bool]]:
    start = datetime.now(UTC)

    async def check() -> bool:
        return (datetime.now(UTC) - start).total_seconds() >= seconds

    return check


async def test_time_to_accept_is_the_same_in_the_summary_and_the_report(
    database: Database,
    run: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A notification delayed 3 h by a mail outage, accepted 5 h after delivery: 5 h, in the
    workflow's summary, the report, the CLI's `report --json` and its HTML (the Reports page's
    renderer), its `report --csv`, the weekly report's email and the operators' weekly trends."""
    accepted = T0 + timedelta(hours=8)
    a = assignment(
        1,
        "100",
        Outcome.ACCEPTED,
        notified_at=T0 + timedelta(hours=3),
        decided_at=accepted,
        accepted_at=accepted,
    )
    snap = snapshot("FT-TTA", Status.ACTIVE, [a])
    await ReferralReadModel(database.sessionmaker).sync(snap, now=accepted)
    report = await build_report(database.sessionmaker, None, accepted)
    summary = t.summary(snap.state, accepted)
    took = time_to_accept(a.assigned_at, a.notified_at, a.accepted_at)
    assert took == timedelta(hours=5) and summary.time_to_accept_seconds == 5 * 3600
    assert report.time_to_accept_median_hours == 5.0
    assert report.time_to_accept_by_type["benefit"]["median_hours"] == 5.0
    cli = run("report", "--json", DATABASE_URL=database.url)
    assert cli.returncode == 0 and json.loads(cli.stdout)["time_to_accept_median_hours"] == 5.0
    html = tmp_path / "report.html"
    assert run("report", "--html", str(html), DATABASE_URL=database.url).returncode == 0
    five_hours = re.compile(r"\b5\.00? h\b")  # the tiles' short form, the tables' 2 decimals
    assert five_hours.search(html.read_text(encoding="utf-8"))
    weekly = compose_report(report, T0 - timedelta(days=7), {}, Settings(), "run-tta")
    assert five_hours.search(weekly.text)
    week = (await weekly_trends(database.sessionmaker, accepted, weeks=1))[0]
    assert week.time_to_accept_median_hours == 5.0
    csv = run("report", "--csv", DATABASE_URL=database.url)
    (row,) = parse(csv.stdout)
    assert row["hours_to_accept"] == "5.0" and row["answered_within_sla"] == "true"


async def test_a_completed_assignment_counts_its_accept_not_its_completion(
    database: Database,
) -> None:
    """Accepted 5 h after delivery, within the SLA, completed ten days later: the report and
    the operators' weekly trends measure the accept (5 h, in time), as the workflow's
    summary does, not the completion."""
    accepted, completed = T0 + timedelta(hours=8), T0 + timedelta(days=10)
    a = assignment(
        1,
        "100",
        Outcome.COMPLETED,
        notified_at=T0 + timedelta(hours=3),
        decided_at=completed,
        accepted_at=accepted,
    )
    history = [event(8 * 60, "accepted", actor="partner:100")]
    snap = snapshot("FT-TTA-DONE", Status.COMPLETED, [a], history=history)
    await ReferralReadModel(database.sessionmaker).sync(snap, now=completed)
    assert t.summary(snap.state, completed).time_to_accept_seconds == 5 * 3600
    report = await build_report(database.sessionmaker, None, completed)
    assert report.time_to_accept_median_hours == 5.0
    assert report.answered_within_sla_pct == 100.0
    weeks = await weekly_trends(database.sessionmaker, completed, weeks=3)
    (week,) = [w for w in weeks if w.start <= T0 < w.start + timedelta(weeks=1)]
    assert week.time_to_accept_median_hours == 5.0
    assert week.within_sla_pct == 100.0
    (row,) = await assignment_rows(database.sessionmaker, None)
    assert row.hours_to_accept == 5.0 and row.answered_within_sla is True


async def test_an_answer_before_the_clock_started_is_within_the_sla_on_every_path(
    database: Database,
) -> None:
    """Accepted in the portal while the notification waited for the mail server (no clock,
    no deadline), then declined after the deadline it would have had: in time, and time to
    accept runs from the assignment, in the summary, the report, the weekly trends and the
    CSV export alike."""
    accepted, declined = T0 + timedelta(hours=1), T0 + timedelta(days=5)
    a = assignment(
        1,
        "100",
        Outcome.DECLINED,
        due_at=None,
        decided_at=declined,
        accepted_at=accepted,
        reason="customer_unresponsive",
    )
    history = [event(60, "accepted", actor="partner:100")]
    snap = snapshot("FT-TTA-EARLY", Status.ESCALATED, [a], history=history)
    await ReferralReadModel(database.sessionmaker).sync(snap, now=declined)
    assert answered_in_time(a.outcome, a.accepted_at, a.due_at) is True
    assert t.summary(snap.state, declined).time_to_accept_seconds == 3600
    report = await build_report(database.sessionmaker, None, declined)
    assert report.answered_within_sla_pct == 100.0 and report.time_to_accept_median_hours == 1.0
    weeks = await weekly_trends(database.sessionmaker, declined, weeks=3)
    (week,) = [w for w in weeks if w.start <= T0 < w.start + timedelta(weeks=1)]
    assert week.within_sla_pct == 100.0 and week.time_to_accept_median_hours == 1.0
    (row,) = await assignment_rows(database.sessionmaker, None)
    assert row.answered_within_sla is True and row.hours_to_accept == 1.0


async def test_overdue_is_the_same_on_every_path(database: Database) -> None:
    """`domain.overdue`: the operators' search (and so its CSV and the Reports page), the read
    model's listing and the rule agree; a completed referral that kept its contact flag and a
    referral in time are not overdue. (`referral list --overdue` asks Temporal the same
    question: `test_cli_unit::test_visibility_queries`.)"""
    now = T0 + timedelta(days=5)
    late = assignment(1, "100", Outcome.PENDING, due_at=T0 + timedelta(days=2))
    on_time = assignment(1, "100", Outcome.PENDING, due_at=T0 + timedelta(days=9))
    taken = assignment(1, "100", Outcome.ACCEPTED, decided_at=T0, accepted_at=T0)
    done = assignment(1, "100", Outcome.COMPLETED, decided_at=T0, accepted_at=T0)
    flagged = Milestones(contact_overdue=True)
    rows = {
        "FT-OD-LATE": snapshot("FT-OD-LATE", Status.PENDING, [late]),
        "FT-OD-ONTIME": snapshot("FT-OD-ONTIME", Status.PENDING, [on_time]),
        "FT-OD-CONTACT": snapshot("FT-OD-CONTACT", Status.ACTIVE, [taken], milestones=flagged),
        "FT-OD-DONE": snapshot("FT-OD-DONE", Status.COMPLETED, [done], milestones=flagged),
    }
    model = ReferralReadModel(database.sessionmaker)
    for snap in rows.values():
        await model.sync(snap, now=T0)
    expected = {"FT-OD-LATE", "FT-OD-CONTACT"}
    by_rule = {
        rid
        for rid, snap in rows.items()
        if is_overdue(
            snap.state.status,
            snap.state.current.due_at if snap.state.current else None,
            snap.state.milestones.contact_overdue,
            now,
        )
    }
    found = await PortalQueries(database.sessionmaker).search(Filters(overdue=True), 1, 50, now)
    listed = await model.list(overdue=True, now=now, parent=...)
    assert by_rule == expected
    assert {r.workflow_id for r in found.rows} == expected
    assert {r.workflow_id for r in listed} == expected


async def test_the_weekly_email_and_the_weekly_trends_count_the_same_week(
    database: Database,
) -> None:
    """One week, `domain.report.last_week`: the weekly email sent on Monday 07:00 UTC reports
    Monday 00:00 to Monday 00:00, the Reports page's trend row of that week. A referral
    assigned late on Sunday is in it; one assigned early on Monday, before the email, is not."""
    sunday = T0 + timedelta(days=6, hours=14)  # 23:00 UTC
    monday = T0 + timedelta(days=6, hours=18)  # 03:00 UTC, the next week
    sent = T0 + timedelta(days=6, hours=22)  # the schedule's Monday 07:00 UTC
    model = ReferralReadModel(database.sessionmaker)
    for rid, at in (("FT-WEEK-SUN", sunday), ("FT-WEEK-MON", monday)):
        took = at + timedelta(hours=2)
        a = assignment(1, "100", Outcome.ACCEPTED, assigned_at=at, notified_at=at, decided_at=took)
        a.accepted_at = took
        history = [HistoryEntry(at=took, actor="partner:100", action="accepted")]
        snap = snapshot(rid, Status.ACTIVE, [a], history=history, created_at=at)
        await model.sync(snap, now=sent)

    since, until = last_week(sent)
    assert (since, until) == (week_start(sunday), week_start(monday))
    report = await build_report(database.sessionmaker, since, sent, until=until)
    week = (await weekly_trends(database.sessionmaker, sent, weeks=2))[0]
    assert week.start == since
    assert report.referrals_total == week.referrals == 1
    assert report.assignments_total == 1
    assert report.time_to_accept_median_hours == week.time_to_accept_median_hours == 2.0
    assert report.answered_within_sla_pct == week.within_sla_pct == 100.0
    assert report.open_by_age["<1d"] == 2  # open referrals: as of sending, both
    weekly = compose_report(report, since, {}, Settings(), "run-week")
    span = f"{formats.day(since.date())} – {formats.day((until - timedelta(days=1)).date())}"
    assert span in weekly.subject
