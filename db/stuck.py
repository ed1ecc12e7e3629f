"""Stuck referrals: the read model's rows that the watchdog's rule (`domain.watchdog.stuck`)
calls stuck, for the weekly report, the Escalations page and `referral list --stuck`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import ReferralRecord
from db.readmodel import ReferralReadModel, ReferralRow
from domain import watchdog
from domain.models import Status
from domain.text import Text


@dataclass
class StuckReferral:
    row: ReferralRow
    why: str  # in English
    reason: Text  # the same, for the pages' catalogs


async def stuck_referrals(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> list[StuckReferral]:
    """Referrals and parts stuck at `now`, oldest first. The query only narrows the rows down
    (past their deadline, or split); the rule decides."""
    read = ReferralReadModel(sessions)
    late = ReferralRecord.waits_until < now - watchdog.GRACE
    candidates = await read.rows_where(or_(late, ReferralRecord.status == Status.SPLIT))
    parents = {r.workflow_id: r for r in candidates if r.status == Status.SPLIT}
    rows: dict[str, ReferralRow] = {}
    if parents:
        for part in await read.rows_where(ReferralRecord.parent_id.in_(list(parents))):
            rows[part.workflow_id] = part
    found = []
    for row in candidates:
        parts = [_part(row, p.get("workflow_id", ""), rows) for p in row.state.get("parts", [])]
        reason = watchdog.stuck_reason(_watched(row), parts, now)
        if reason is not None:
            found.append(StuckReferral(row, str(reason), reason))
    return found


def _part(parent: ReferralRow, part_id: str, rows: dict[str, ReferralRow]) -> watchdog.Watched:
    """A part as its own row has it; a part without a row has not started, and should have
    by the time its parent split (its parent's last change)."""
    row = rows.get(part_id)
    if row is None:
        return watchdog.Watched(part_id, "", parent.updated_at)
    return _watched(row)


def _watched(r: ReferralRow) -> watchdog.Watched:
    return watchdog.Watched(r.workflow_id, r.status, r.waits_until, r.closed_at)
