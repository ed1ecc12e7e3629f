"""CPOR claims in the directory: operator import (idempotent), list, revoke, the partner's own
`cpor-claimed` action (`record_claim`), and the lookup by customer tenant that matching uses.
Every change is audited (`db.audit`) in its own transaction."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from db.audit import Action, Actor, record_event
from db.claim_lookup import active_claims
from db.directory import UnknownPartner
from db.models import CporClaim, Partner
from db.transactions import run_write
from domain.claims import SOURCE_IMPORT, SOURCE_PARTNER, Claim, tenant_key


class UnknownClaim(KeyError):
    """No active claim of that partner on that tenant."""

    def __init__(self, tenant_id: str, mpn_id: str) -> None:
        super().__init__(tenant_id, mpn_id)
        self.tenant_id = tenant_id
        self.mpn_id = mpn_id

    def __str__(self) -> str:
        return f"no active claim of partner {self.mpn_id!r} on tenant {self.tenant_id!r}"


@dataclass
class ClaimRow:
    id: int
    tenant_id: str
    mpn_id: str
    workloads: list[str]
    claimed_at: datetime
    source: str
    referral_id: str | None
    recorded_by: str
    revoked_at: datetime | None
    revoked_by: str
    revoke_reason: str

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass
class ImportCounts:
    claims: int
    created: int
    updated: int
    unchanged: int


def record_claim(
    session: Session,
    *,
    tenant_id: str,
    mpn_id: str,
    workloads: builtins.list[str],
    referral_id: str,
    at: datetime,
    actor: Actor,
) -> ClaimRow | None:
    """The partner's `cpor-claimed` action, inside the caller's write transaction: an active
    claim of `mpn_id` on the tenant that covers `workloads` (an existing claim gains the
    workloads it lacked). Idempotent. None when the referral names no tenant."""
    tenant = tenant_key(tenant_id)
    if not tenant:
        return None
    row = _active(session, tenant, mpn_id)
    wanted = sorted(set(workloads))
    if row is None:
        row = CporClaim(
            tenant_id=tenant,
            mpn_id=mpn_id,
            workloads=wanted,
            claimed_at=at,
            source=SOURCE_PARTNER,
            referral_id=referral_id,
            recorded_by=actor.who[:128],
            created_at=at,
            updated_at=at,
            revoked_by="",
            revoke_reason="",
        )
        session.add(row)
        session.flush()
        detail = f"{', '.join(wanted)} (referral {referral_id})"
        record_event(
            session, at, actor, Action.CLAIM_CREATED, mpn_id=mpn_id, tenant_id=tenant, detail=detail
        )
    elif not set(wanted).issubset(row.workloads):
        merged = sorted(set(row.workloads) | set(wanted))
        detail = f"{', '.join(row.workloads)} -> {', '.join(merged)} (referral {referral_id})"
        row.workloads, row.updated_at = merged, at
        record_event(
            session, at, actor, Action.CLAIM_UPDATED, mpn_id=mpn_id, tenant_id=tenant, detail=detail
        )
    return _claim_row(row)


class ClaimStore:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def import_claims(
        self, claims: builtins.list[Claim], now: datetime, actor: Actor
    ) -> ImportCounts:
        """Create or update claims (all or nothing). A claim equal to the active one is left
        alone, so importing the same file twice changes nothing; a claim without `claimed_at`
        keeps the stored date. Unknown partners refuse the whole import."""

        def work(session: Session) -> ImportCounts:
            ids = sorted({c.mpn_id for c in claims})
            known = set(session.scalars(select(Partner.mpn_id).where(Partner.mpn_id.in_(ids))))
            missing = [m for m in ids if m not in known]
            if missing:
                raise UnknownPartner(missing[0])
            created = updated = 0
            for claim in claims:
                tenant = tenant_key(claim.tenant_id)
                row = _active(session, tenant, claim.mpn_id)
                workloads = sorted(claim.workloads)
                detail = ", ".join(workloads)
                if row is None:
                    session.add(
                        CporClaim(
                            tenant_id=tenant,
                            mpn_id=claim.mpn_id,
                            workloads=workloads,
                            claimed_at=claim.claimed_at or now,
                            source=SOURCE_IMPORT,
                            referral_id=None,
                            recorded_by=actor.who[:128],
                            created_at=now,
                            updated_at=now,
                            revoked_by="",
                            revoke_reason="",
                        )
                    )
                    session.flush()
                    action = Action.CLAIM_CREATED
                    created += 1
                else:
                    at = claim.claimed_at or row.claimed_at
                    if sorted(row.workloads) == workloads and at == row.claimed_at:
                        continue
                    detail = f"{', '.join(row.workloads)} -> {detail}"
                    row.workloads, row.claimed_at, row.updated_at = workloads, at, now
                    action = Action.CLAIM_UPDATED
                    updated += 1
                record_event(
                    session,
                    now,
                    actor,
                    action,
                    mpn_id=claim.mpn_id,
                    tenant_id=tenant,
                    detail=detail,
                )
            return ImportCounts(len(claims), created, updated, len(claims) - created - updated)

        return await run_write(self._sessionmaker, work)

    async def record_partner_claim(
        self,
        *,
        tenant_id: str,
        mpn_id: str,
        workloads: builtins.list[str],
        referral_id: str,
        at: datetime,
    ) -> ClaimRow | None:
        """`record_claim` in its own transaction, acted by `partner:<mpn_id>`."""
        actor = Actor(f"partner:{mpn_id}", "cpor-claimed action")

        def work(session: Session) -> ClaimRow | None:
            return record_claim(
                session,
                tenant_id=tenant_id,
                mpn_id=mpn_id,
                workloads=workloads,
                referral_id=referral_id,
                at=at,
                actor=actor,
            )

        return await run_write(self._sessionmaker, work)

    async def revoke(self, tenant_id: str, mpn_id: str, now: datetime, actor: Actor) -> ClaimRow:
        """End the partner's active claim on the tenant (the row stays, revoked)."""
        tenant = tenant_key(tenant_id)

        def work(session: Session) -> ClaimRow:
            row = _active(session, tenant, mpn_id)
            if row is None:
                raise UnknownClaim(tenant, mpn_id)
            row.revoked_at, row.revoked_by, row.revoke_reason = now, actor.who[:128], actor.why
            row.updated_at = now
            detail = ", ".join(row.workloads)
            record_event(
                session,
                now,
                actor,
                Action.CLAIM_REVOKED,
                mpn_id=mpn_id,
                tenant_id=tenant,
                detail=detail,
            )
            return _claim_row(row)

        return await run_write(self._sessionmaker, work)

    async def list(
        self,
        tenant_id: str | None = None,
        mpn_id: str | None = None,
        include_revoked: bool = False,
    ) -> builtins.list[ClaimRow]:
        """Claims by tenant, then partner, then age."""
        stmt = select(CporClaim)
        if tenant_id is not None:
            stmt = stmt.where(CporClaim.tenant_id == tenant_key(tenant_id))
        if mpn_id is not None:
            stmt = stmt.where(CporClaim.mpn_id == mpn_id)
        if not include_revoked:
            stmt = stmt.where(CporClaim.revoked_at.is_(None))
        stmt = stmt.order_by(CporClaim.tenant_id, CporClaim.mpn_id, CporClaim.id)
        async with self._sessionmaker() as session:
            return [_claim_row(r) for r in await session.scalars(stmt)]

    async def active_for(self, tenant_id: str) -> builtins.list[Claim]:
        async with self._sessionmaker() as session:
            return await session.run_sync(active_claims, tenant_id)


def _active(session: Session, tenant: str, mpn_id: str) -> CporClaim | None:
    return session.scalars(
        select(CporClaim).where(
            CporClaim.tenant_id == tenant,
            CporClaim.mpn_id == mpn_id,
            CporClaim.revoked_at.is_(None),
        )
    ).first()


def _claim_row(r: CporClaim) -> ClaimRow:
    return ClaimRow(
        id=r.id,
        tenant_id=r.tenant_id,
        mpn_id=r.mpn_id,
        workloads=list(r.workloads),
        claimed_at=r.claimed_at,
        source=r.source,
        referral_id=r.referral_id,
        recorded_by=r.recorded_by,
        revoked_at=r.revoked_at,
        revoked_by=r.revoked_by,
        revoke_reason=r.revoke_reason,
    )
