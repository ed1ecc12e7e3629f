"""The directory audit trail (`directory_events`): who changed a partner profile, a pause, an
API token or a CPOR claim, what changed, when and why. Written in the transaction of the change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from db.models import DirectoryEvent


class Action:
    """What happened (`directory_events.action`)."""

    PROFILE_CREATED = "profile_created"
    PROFILE_UPDATED = "profile_updated"
    PAUSED = "paused"
    RESUMED = "resumed"
    PAUSE_ENDED = "pause_ended"  # the scheduled sweep resumed a partner
    TOKEN_ISSUED = "token_issued"
    TOKENS_REVOKED = "tokens_revoked"
    CLAIM_CREATED = "claim_created"
    CLAIM_UPDATED = "claim_updated"
    CLAIM_REVOKED = "claim_revoked"

    ALL: tuple[str, ...] = (
        PROFILE_CREATED,
        PROFILE_UPDATED,
        PAUSED,
        RESUMED,
        PAUSE_ENDED,
        TOKEN_ISSUED,
        TOKENS_REVOKED,
        CLAIM_CREATED,
        CLAIM_UPDATED,
        CLAIM_REVOKED,
    )


SYSTEM_PAUSE_SWEEP = "system:pause-sweep"


@dataclass(frozen=True)
class Actor:
    """Who acted and why: an operator ("operator:NAME"), a partner ("partner:MPN") or a
    scheduled job ("system:..."), and the reason they gave (may be empty)."""

    who: str
    why: str = ""


@dataclass
class DirectoryEventRow:
    at: datetime
    actor: str
    action: str
    mpn_id: str | None
    tenant_id: str | None
    detail: str
    reason: str


def record_event(
    session: Session,
    at: datetime,
    actor: Actor,
    action: str,
    *,
    mpn_id: str | None = None,
    tenant_id: str | None = None,
    detail: str = "",
) -> None:
    """Add one audit row to the caller's write transaction."""
    session.add(
        DirectoryEvent(
            at=at,
            actor=actor.who[:128],
            action=action,
            mpn_id=mpn_id,
            tenant_id=tenant_id,
            detail=detail,
            reason=actor.why,
        )
    )


class DirectoryAudit:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def list(
        self,
        mpn_id: str | None = None,
        tenant_id: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[DirectoryEventRow]:
        """Events in time order (the last `limit` of them when given)."""
        stmt = select(DirectoryEvent)
        if mpn_id is not None:
            stmt = stmt.where(DirectoryEvent.mpn_id == mpn_id)
        if tenant_id is not None:
            stmt = stmt.where(DirectoryEvent.tenant_id == tenant_id)
        if since is not None:
            stmt = stmt.where(DirectoryEvent.at >= since)
        stmt = stmt.order_by(DirectoryEvent.at.desc(), DirectoryEvent.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        async with self._sessionmaker() as session:
            rows = list(await session.scalars(stmt))
        return [
            DirectoryEventRow(
                at=e.at,
                actor=e.actor,
                action=e.action,
                mpn_id=e.mpn_id,
                tenant_id=e.tenant_id,
                detail=e.detail,
                reason=e.reason,
            )
            for e in reversed(rows)
        ]
