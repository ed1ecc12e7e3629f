"""Directory bookkeeping a workflow asks for while it runs: the partner's one granted
"partner at capacity" decline, and the CPOR claim a partner records on a referral."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from temporalio import activity

from db.capacity import claim_capacity_grant, release_capacity_grant
from db.claims import ClaimStore
from db.engine import run_write
from domain.models import CapacityGrant, CporClaim


class DirectoryActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="grant_capacity_decline")
    async def grant_capacity_decline(self, grant: CapacityGrant) -> bool:
        """Claim the grant for `grant`'s assignment (True: it is this one's), or release it."""
        now = datetime.now(UTC)

        def work(session: Session) -> bool:
            if grant.release:
                release_capacity_grant(session, grant.partner, grant.scope_id, grant.seq)
                return False
            return claim_capacity_grant(session, grant.partner, grant.scope_id, grant.seq, now)

        return await run_write(self._sessions, work)

    @activity.defn(name="record_cpor_claim")
    async def record_cpor_claim(self, claim: CporClaim) -> None:
        """Record (or widen) the partner's claim on the customer's tenant; idempotent."""
        await ClaimStore(self._sessions).record_partner_claim(
            tenant_id=claim.tenant_id,
            mpn_id=claim.partner,
            workloads=claim.workloads,
            referral_id=claim.referral_id,
            at=claim.at,
        )
