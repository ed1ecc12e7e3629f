"""The portal's paged lists: newest first, counted, filtered, and a partner's own outcome."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert

from db.models import AssignmentRecord, ReferralRecord
from db.portal_queries import Filters, PortalQueries
from tests.dbfixtures import T0, Database


async def _rows(database: Database, n: int) -> None:
    referrals = [
        {
            "workflow_id": f"W{i:04d}",
            "referral_id": f"W{i:04d}",
            "parent_id": None,
            "type": "benefit" if i % 3 else "standard",
            "status": "pending" if i % 2 else "active",
            "partner_id": "1" if i < n // 2 else "2",
            "customer_country": "DE",
            "seats": 100,
            "workloads": ["teams"],
            "sla_due_at": None,
            "escalated": False,
            "contact_overdue": False,
            "created_at": T0 + timedelta(minutes=i),
            "updated_at": T0,
            "closed_at": None,
            "referral": {"customer": {"name": f"Customer {i}"}},
            "state": {},
        }
        for i in range(n)
    ]
    assignments = [
        {
            "workflow_id": f"W{i:04d}",
            "referral_id": f"W{i:04d}",
            "seq": 1,
            "partner_id": "1" if i < n // 2 else "2",
            "outcome": "declined" if i == 0 else "pending",
            "assigned_at": T0,
            "reason": "",
            "note": "",
        }
        for i in range(n)
    ]
    async with database.sessionmaker.begin() as session:
        await session.execute(insert(ReferralRecord), referrals)
        await session.execute(insert(AssignmentRecord), assignments)


async def test_search_pages_newest_first_with_the_full_count(database: Database) -> None:
    await _rows(database, 120)
    queries = PortalQueries(database.sessionmaker)
    first = await queries.search(Filters(), 1, 50, T0)
    last = await queries.search(Filters(), 3, 50, T0)
    assert first.total == 120 and first.pages == 3
    assert [r.workflow_id for r in first.rows[:2]] == ["W0119", "W0118"]
    assert len(last.rows) == 20 and last.rows[-1].workflow_id == "W0000"
    pending = await queries.search(Filters(status="pending", type="standard"), 1, 50, T0)
    assert pending.total == 20 and all(r.status == "pending" for r in pending.rows)
    assert first.rows[0].customer_name == "Customer 119"


async def test_a_partner_sees_the_referrals_it_held_with_its_own_outcome(
    database: Database,
) -> None:
    await _rows(database, 120)
    page = await PortalQueries(database.sessionmaker).partner_page("1", Filters(), 3, 25, T0)
    assert page.total == 60 and len(page.rows) == 10
    assert page.rows[-1].workflow_id == "W0000" and page.rows[-1].own_outcome == "declined"
