"""Read model: idempotent snapshot sync, exactly-once load bookkeeping, queries."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from db.directory import PartnerDirectory
from db.models import AssignmentRecord, AuditEvent, Partner
from db.readmodel import ReferralReadModel
from domain.models import Milestones, Outcome, Reason, Status
from tests.dbfixtures import T0, Database, assignment, event, partner_profile, snapshot


async def _load(database: Database, mpn_id: str) -> tuple[int, int]:
    async with database.sessionmaker() as s:
        row = await s.get(Partner, mpn_id)
        assert row is not None
        return row.open_assignments, row.capacity_declines


async def _partners(database: Database, *ids: str) -> None:
    await PartnerDirectory(database.sessionmaker).upsert([partner_profile(i) for i in ids], T0)


async def test_sync_writes_the_row(database: Database) -> None:
    rm = ReferralReadModel(database.sessionmaker)
    snap = snapshot(
        "FT-1",
        assignments=[assignment(1, "100")],
        history=[event(0, "created"), event(1, "assigned", detail="100")],
    )
    await rm.sync(snap, now=T0)

    row = await rm.get("FT-1")
    assert row is not None
    assert (row.status, row.partner_id, row.type, row.seats) == ("pending", "100", "benefit", 2400)
    assert row.sla_due_at == T0 + timedelta(days=2)
    assert row.created_at == T0 and row.updated_at == T0 and row.closed_at is None
    assert not row.escalated and not row.contact_overdue
    assert row.referral["customer"]["country"] == "DE"
    assert row.state["assignments"][0]["assigned_at"] == T0.isoformat()
    assert [e.action for e in await rm.history("FT-1")] == ["created", "assigned"]
    assert await rm.get("missing") is None


async def test_same_closing_snapshot_twice_decrements_once(database: Database) -> None:
    await _partners(database, "100", "200")
    rm = ReferralReadModel(database.sessionmaker)
    first = assignment(1, "100")
    assert await rm.reserve_assignment("FT-1", "FT-1", first)
    assert not await rm.reserve_assignment("FT-1", "FT-1", first)
    assert await _load(database, "100") == (1, 0)
    await rm.sync(snapshot("FT-1", assignments=[first], history=[event(0, "assigned")]))
    assert await _load(database, "100") == (1, 0)

    declined = assignment(
        1,
        "100",
        Outcome.DECLINED,
        decided_at=T0 + timedelta(hours=3),
        reason=Reason.PARTNER_AT_CAPACITY,
    )
    closing = snapshot(
        "FT-1",
        assignments=[declined, assignment(2, "200")],
        history=[event(0, "assigned"), event(180, "declined"), event(181, "assigned")],
    )
    await rm.sync(closing)
    await rm.sync(closing)
    await asyncio.gather(rm.sync(closing), rm.sync(closing))

    assert await _load(database, "100") == (0, 0)  # the capacity grant is counted when claimed
    assert await _load(database, "200") == (1, 0)
    async with database.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(AuditEvent)) == 3
        assert await s.scalar(select(func.count()).select_from(AssignmentRecord)) == 2
    row = await rm.get("FT-1")
    assert row is not None and row.partner_id == "200"


async def test_accept_then_complete_closes_once(database: Database) -> None:
    await _partners(database, "100")
    rm = ReferralReadModel(database.sessionmaker)
    await rm.reserve_assignment("FT-1", "FT-1", assignment(1, "100"))
    accepted = assignment(1, "100", Outcome.ACCEPTED, decided_at=T0 + timedelta(hours=1))
    await rm.sync(snapshot("FT-1", Status.ACTIVE, [accepted], [event(0, "a"), event(60, "b")]))
    row = await rm.get("FT-1")
    assert row is not None and row.sla_due_at is None and row.partner_id == "100"
    assert await _load(database, "100") == (1, 0)

    done = assignment(1, "100", Outcome.COMPLETED, decided_at=T0 + timedelta(hours=1))
    history = [event(0, "a"), event(60, "b"), event(600, "completed")]
    for _ in range(2):
        await rm.sync(snapshot("FT-1", Status.COMPLETED, [done], history))
    assert await _load(database, "100") == (0, 0)
    row = await rm.get("FT-1")
    assert row is not None
    assert row.partner_id is None
    assert row.closed_at == T0 + timedelta(minutes=600)


async def test_open_counter_never_goes_below_zero(database: Database) -> None:
    await _partners(database, "100")
    rm = ReferralReadModel(database.sessionmaker)
    # the row is first written by sync (no reservation): sync counts it itself
    await rm.sync(snapshot("FT-1", assignments=[assignment(1, "100")], history=[event(0, "a")]))
    assert await _load(database, "100") == (1, 0)
    async with database.sessionmaker() as s, s.begin():
        row = await s.get(Partner, "100")
        assert row is not None
        row.open_assignments = 0
    expired = assignment(1, "100", Outcome.EXPIRED, decided_at=T0 + timedelta(days=2))
    await rm.sync(snapshot("FT-1", assignments=[expired], history=[event(0, "a"), event(1, "e")]))
    assert await _load(database, "100") == (0, 0)


async def test_stale_snapshot_is_ignored(database: Database) -> None:
    rm = ReferralReadModel(database.sessionmaker)
    newer = snapshot("FT-1", Status.ESCALATED, history=[event(0, "a"), event(1, "escalated")])
    await rm.sync(newer)
    await rm.sync(snapshot("FT-1", Status.PENDING, history=[event(0, "a")]))
    row = await rm.get("FT-1")
    assert row is not None and row.status == "escalated" and row.escalated


async def test_list_filters(database: Database) -> None:
    rm = ReferralReadModel(database.sessionmaker)
    now = T0 + timedelta(days=3)
    await rm.sync(snapshot("FT-1", assignments=[assignment(1, "100")]))  # SLA passed at `now`
    await rm.sync(
        snapshot(
            "FT-2",
            Status.ACTIVE,
            [assignment(1, "200", Outcome.ACCEPTED)],
            milestones=Milestones(contact_overdue=True),
            created_at=T0 + timedelta(hours=1),
            customer_country="US",
        )
    )
    await rm.sync(
        snapshot(
            "FT-3",
            Status.PENDING,
            [assignment(1, "100", due_at=now + timedelta(days=1))],
            created_at=T0 + timedelta(hours=2),
            type="standard",
        )
    )
    await rm.sync(snapshot("FT-4", Status.SPLIT, created_at=T0 + timedelta(hours=3)))
    await rm.sync(
        snapshot(
            "FT-4",
            Status.PENDING,
            [assignment(1, "300")],
            workflow_id="FT-4/part-1",
            parent_id="FT-4",
            created_at=T0 + timedelta(hours=4),
        )
    )

    async def ids(**kw: Any) -> list[str]:
        return [r.workflow_id for r in await rm.list(**kw)]

    assert await ids() == ["FT-1", "FT-2", "FT-3", "FT-4", "FT-4/part-1"]
    assert await ids(status="pending") == ["FT-1", "FT-3", "FT-4/part-1"]
    assert await ids(partner="100") == ["FT-1", "FT-3"]
    assert await ids(type="standard") == ["FT-3"]
    assert await ids(country="US") == ["FT-2"]
    assert await ids(overdue=True, now=now) == ["FT-1", "FT-2", "FT-4/part-1"]
    assert await ids(parent=None) == ["FT-1", "FT-2", "FT-3", "FT-4"]
    assert await ids(parent="FT-4") == ["FT-4/part-1"]
    assert await ids(status="pending", partner="100", type="benefit") == ["FT-1"]


async def test_assignments_for_partner_and_history_across_parts(database: Database) -> None:
    rm = ReferralReadModel(database.sessionmaker)
    declined = assignment(1, "100", Outcome.DECLINED, reason=Reason.CUSTOMER_UNRESPONSIVE)
    await rm.sync(
        snapshot("FT-1", assignments=[declined, assignment(2, "200")], history=[event(5, "x")])
    )
    await rm.sync(snapshot("FT-2", Status.ACTIVE, [assignment(1, "100", Outcome.ACCEPTED)]))
    await rm.sync(snapshot("FT-3", assignments=[assignment(1, "300")]))
    await rm.sync(
        snapshot(
            "FT-1",
            workflow_id="FT-1/part-1",
            parent_id="FT-1",
            history=[event(1, "part-created"), event(9, "part-assigned")],
        )
    )

    assert [r.workflow_id for r in await rm.assignments_for_partner("100")] == ["FT-1", "FT-2"]
    assert [r.workflow_id for r in await rm.assignments_for_partner("100", "active")] == ["FT-2"]
    assert await rm.assignments_for_partner("999") == []
    history = await rm.history("FT-1")
    assert [(e.workflow_id, e.action) for e in history] == [
        ("FT-1/part-1", "part-created"),
        ("FT-1", "x"),
        ("FT-1/part-1", "part-assigned"),
    ]
