"""Partners' own record ids on referrals, and the incremental read a partner's system syncs
with: the referrals it holds or held, in update order, after a position."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from db.integration_models import ExternalRef
from db.models import AssignmentRecord, ReferralRecord
from db.readmodel import ReferralRow, row_of
from db.transactions import run_write


class ExternalRefs:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def set(self, workflow_id: str, mpn_id: str, ref: str | None, now: datetime) -> None:
        """Store (or with None / "" clear) the partner's record id for this referral."""

        def work(session: Session) -> None:
            row = session.get(ExternalRef, (workflow_id, mpn_id))
            if not ref:
                session.execute(
                    delete(ExternalRef).where(
                        ExternalRef.workflow_id == workflow_id, ExternalRef.mpn_id == mpn_id
                    )
                )
            elif row is None:
                session.add(
                    ExternalRef(
                        workflow_id=workflow_id, mpn_id=mpn_id, external_ref=ref, updated_at=now
                    )
                )
            else:
                row.external_ref, row.updated_at = ref, now

        await run_write(self._sessionmaker, work)

    async def of_partner(self, mpn_id: str, workflow_ids: Iterable[str]) -> dict[str, str]:
        """workflow id -> the partner's record id, for those of `workflow_ids` that have one."""
        ids = list(workflow_ids)
        if not ids:
            return {}
        stmt = select(ExternalRef.workflow_id, ExternalRef.external_ref).where(
            ExternalRef.mpn_id == mpn_id, ExternalRef.workflow_id.in_(ids)
        )
        async with self._sessionmaker() as session:
            return {wid: ref for wid, ref in (await session.execute(stmt)).all()}

    async def get(self, workflow_id: str, mpn_id: str) -> str | None:
        return (await self.of_partner(mpn_id, [workflow_id])).get(workflow_id)

    async def of_referral(self, workflow_ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """workflow id -> {partner: its record id}: every partner's, for operators."""
        ids = list(workflow_ids)
        out: dict[str, dict[str, str]] = {}
        if not ids:
            return out
        stmt = select(ExternalRef.workflow_id, ExternalRef.mpn_id, ExternalRef.external_ref).where(
            ExternalRef.workflow_id.in_(ids)
        )
        async with self._sessionmaker() as session:
            for wid, mpn_id, ref in (await session.execute(stmt)).all():
                out.setdefault(wid, {})[mpn_id] = ref
        return out

    async def changes(
        self,
        mpn_id: str,
        *,
        updated_since: datetime | None,
        after: tuple[datetime, str] | None,
        status: str | None,
        limit: int,
        settled: datetime | None = None,
    ) -> list[ReferralRow]:
        """The partner's referrals and parts changed at or after `updated_since` (and before
        `settled`), ordered by update time then id, starting after the position `after` (the
        last row of the previous page); at most `limit` rows."""
        held = ReferralRecord.workflow_id.in_(
            select(AssignmentRecord.workflow_id).where(AssignmentRecord.partner_id == mpn_id)
        )
        stmt = select(ReferralRecord).where(held)
        if updated_since is not None:
            stmt = stmt.where(ReferralRecord.updated_at >= updated_since)
        if after is not None:
            at, wid = after
            stmt = stmt.where(
                or_(
                    ReferralRecord.updated_at > at,
                    and_(ReferralRecord.updated_at == at, ReferralRecord.workflow_id > wid),
                )
            )
        if settled is not None:
            stmt = stmt.where(ReferralRecord.updated_at < settled)
        if status is not None:
            stmt = stmt.where(ReferralRecord.status == status)
        stmt = stmt.order_by(ReferralRecord.updated_at, ReferralRecord.workflow_id).limit(limit)
        async with self._sessionmaker() as session:
            return [row_of(r) for r in await session.scalars(stmt)]
