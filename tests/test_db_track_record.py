"""The track record kept in the database as outcomes are recorded: once per change, on SQLite
and PostgreSQL, summed over the window; the scorecard and the weekly floor crossings."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import timedelta

import pytest

from cli.context import Context
from cli.errors import CliError
from cli.scorecard import scorecard
from db.directory import PartnerDirectory
from db.readmodel import ReferralReadModel
from db.track_record import floor_crossings, records, refresh_records, scorecards
from db.transactions import run_write
from domain.models import Completion, Milestones, Outcome, Reason, Status, TrackRecord
from domain.track_record import RankingTerms
from settings import Settings
from tests.dbfixtures import T0, Database, assignment, event, partner_profile, snapshot

EXPIRED_BEFORE = 9  # judged: 9 before the week (under FLOOR_AFTER), 10 with the decline
TERMS = RankingTerms(mode="track_record", floor=0.3, prior_weight=2)


async def _record(database: Database, mpn_id: str) -> TrackRecord:
    async with database.sessionmaker() as session:
        return (await session.run_sync(records, [mpn_id]))[mpn_id]


async def test_outcomes_move_the_record_once_each(database: Database) -> None:
    await PartnerDirectory(database.sessionmaker).upsert(
        [partner_profile("100"), partner_profile("200")], T0
    )
    rm = ReferralReadModel(database.sessionmaker)
    first = assignment(1, "100")
    assert await rm.reserve_assignment("FT-R1", "FT-R1", first)
    assert (await _record(database, "100")).offers == 1

    expired = assignment(1, "100", Outcome.EXPIRED, decided_at=T0 + timedelta(days=2))
    second = assignment(2, "200", assigned_at=T0 + timedelta(days=2))
    snap = snapshot("FT-R1", assignments=[expired, second], history=[event(0, "expired")])
    await rm.sync(snap, now=T0 + timedelta(days=2))
    await rm.sync(snap, now=T0 + timedelta(days=2))  # a retry counts nothing twice
    assert await _record(database, "100") == TrackRecord(offers=1, expired=1)

    accepted = assignment(
        2,
        "200",
        Outcome.ACCEPTED,
        assigned_at=second.assigned_at,
        accepted_at=T0 + timedelta(days=3),
        decided_at=T0 + timedelta(days=3),
    )
    history = [event(0, "expired"), event(4000, "accepted", actor="partner:200")]
    history.append(event(4100, "account_team_contacted", actor="partner:200"))
    history.append(event(4200, "contacted", actor="partner:200"))
    milestones = Milestones(
        contacted_at=T0 + timedelta(minutes=4200),
        account_team_contacted_at=T0 + timedelta(minutes=4100),
        contact_due_at=T0 + timedelta(days=5),
    )
    active = snapshot(
        "FT-R1",
        status=Status.ACTIVE,
        assignments=[expired, accepted],
        history=history,
        milestones=milestones,
    )
    await rm.sync(active, now=T0 + timedelta(days=3))
    done = snapshot(
        "FT-R1",
        status=Status.COMPLETED,
        assignments=[expired, accepted.__class__(**{**accepted.__dict__, "outcome": "completed"})],
        history=[*history, event(9000, "completed", actor="partner:200")],
        milestones=milestones,
        completion=Completion(vas_sold=True, completed_at=T0 + timedelta(days=9)),
    )
    await rm.sync(done, now=T0 + timedelta(days=9))
    assert await _record(database, "200") == TrackRecord(
        offers=1,
        accepted=1,
        completed=1,
        contacted_in_time=1,
        account_team_first=1,
        vas_sold=1,
    )

    ranking, found = await scorecards(database.sessionmaker, TERMS)
    assert ranking.average == 0.5  # one delivered of two judged
    assert [(m, r.offers) for m, _, r in found] == [("100", 1), ("200", 1)]


async def test_a_partner_side_decline_names_the_profile_field(database: Database) -> None:
    await PartnerDirectory(database.sessionmaker).upsert([partner_profile("300")], T0)
    rm = ReferralReadModel(database.sessionmaker)
    declined = assignment(
        1,
        "300",
        Outcome.DECLINED,
        reason=Reason.LANGUAGE_NOT_SUPPORTED,
        decided_at=T0 + timedelta(hours=1),
    )
    await rm.sync(snapshot("FT-R2", assignments=[declined]), now=T0)
    record = await _record(database, "300")
    assert (record.offers, record.declined_partner, record.declined_language) == (1, 1, 1)


async def test_the_weekly_job_lists_partners_that_crossed_the_floor(database: Database) -> None:
    await PartnerDirectory(database.sessionmaker).upsert(
        [partner_profile("400"), partner_profile("500")], T0
    )
    rm = ReferralReadModel(database.sessionmaker)
    for n in range(12):  # 400 lets twelve offers expire, the last three in the reported week
        at = T0 + timedelta(days=n)
        expired = assignment(1, "400", Outcome.EXPIRED, assigned_at=at, decided_at=at)
        await rm.sync(snapshot(f"FT-F{n}", assignments=[expired]), now=at)
    for n in range(4):  # 500 delivers
        done = assignment(
            1, "500", Outcome.COMPLETED, accepted_at=T0, decided_at=T0 + timedelta(days=n)
        )
        await rm.sync(snapshot(f"FT-G{n}", assignments=[done]), now=T0)
    since, until = T0 + timedelta(days=9), T0 + timedelta(days=12)
    crossed = await floor_crossings(database.sessionmaker, since, until, TERMS)
    assert [c.mpn_id for c in crossed] == ["400"]
    assert crossed[0].standing == "needs_attention"
    later = await floor_crossings(database.sessionmaker, until, until + timedelta(days=7), TERMS)
    assert later == []  # already below the floor before that week

    changed = await run_write(
        database.sessionmaker, lambda s: refresh_records(s, T0 + timedelta(days=800), 365)
    )
    assert set(changed) == {"400", "500"}  # every month left the window
    assert await _record(database, "400") == TrackRecord()


async def test_partners_scorecard_prints_records_scores_and_the_average(
    database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    await PartnerDirectory(database.sessionmaker).upsert(
        [partner_profile("600"), partner_profile("700")], T0
    )
    rm = ReferralReadModel(database.sessionmaker)
    done = assignment(1, "600", Outcome.COMPLETED, accepted_at=T0, decided_at=T0)
    await rm.sync(snapshot("FT-S1", assignments=[done]), now=T0)
    ctx = Context(replace(Settings(), database_url=database.url))
    try:
        await scorecard(ctx, argparse.Namespace(mpn=None, json=True))
        data = json.loads(capsys.readouterr().out)
        assert data["ranking"] == "track_record" and data["program_average"] == 1.0
        by_id = {p["mpn_id"]: p for p in data["partners"]}
        assert by_id["600"]["record"]["completed"] == 1 and by_id["600"]["standing"] == "ranked"
        assert by_id["700"]["standing"] == "newcomer" and by_id["700"]["advice"]
        await scorecard(ctx, argparse.Namespace(mpn="600", json=False))
        text = capsys.readouterr().out
        assert "program average 1.00" in text and "600" in text and "700" not in text
        with pytest.raises(CliError):
            await scorecard(ctx, argparse.Namespace(mpn="999", json=False))
    finally:
        await ctx.close()


async def test_the_weekly_job_lists_a_partner_a_decline_after_accepting_took_below_the_floor(
    database: Database,
) -> None:
    """An engagement accepted before the week and declined in it: the record before the week
    had it accepted, so the decline is what took the partner below the floor."""
    await PartnerDirectory(database.sessionmaker).upsert(
        [partner_profile("700"), partner_profile("800")], T0
    )
    rm = ReferralReadModel(database.sessionmaker)
    for n in range(EXPIRED_BEFORE):
        at = T0 + timedelta(days=n)
        expired = assignment(1, "700", Outcome.EXPIRED, assigned_at=at, decided_at=at)
        await rm.sync(snapshot(f"FT-H{n}", assignments=[expired]), now=at)
    for n in range(4):  # 800 delivers
        done = assignment(1, "800", Outcome.COMPLETED, accepted_at=T0, decided_at=T0)
        await rm.sync(snapshot(f"FT-K{n}", assignments=[done]), now=T0)
    accepted_at, since = T0 + timedelta(days=10), T0 + timedelta(days=14)
    running = assignment(
        1, "700", Outcome.ACCEPTED, accepted_at=accepted_at, decided_at=accepted_at
    )
    history = [event(10 * 24 * 60, "accepted", actor="partner:700")]
    await rm.sync(snapshot("FT-H-RUN", assignments=[running], history=history), now=accepted_at)
    declined_at = since + timedelta(days=1)
    declined = replace(
        running, outcome=Outcome.DECLINED, decided_at=declined_at, reason="customer_unresponsive"
    )
    later = [*history, event(15 * 24 * 60, "declined", actor="partner:700")]
    await rm.sync(snapshot("FT-H-RUN", assignments=[declined], history=later), now=declined_at)
    crossed = await floor_crossings(database.sessionmaker, since, since + timedelta(days=7), TERMS)
    assert [c.mpn_id for c in crossed] == ["700"]
