"""The "partner at capacity" decline a partner is granted once: claimed atomically (one row
per partner), so two declines at the same moment cannot both be granted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from db.engine import insert_ignore
from db.models import CapacityGrant, Partner


def claim_capacity_grant(
    session: Session, mpn_id: str, workflow_id: str, seq: int, now: datetime
) -> bool:
    """True when the grant is (or already was) this assignment's; False when another
    assignment of the partner has it."""
    row = {"mpn_id": mpn_id, "workflow_id": workflow_id, "seq": seq, "granted_at": now}
    insert_ignore(session, CapacityGrant, row)
    holder = session.execute(
        select(CapacityGrant.workflow_id, CapacityGrant.seq).where(CapacityGrant.mpn_id == mpn_id)
    ).one()
    mine = (holder.workflow_id, holder.seq) == (workflow_id, seq)
    if mine:
        session.execute(update(Partner).where(Partner.mpn_id == mpn_id).values(capacity_declines=1))
    return mine


def release_capacity_grant(session: Session, mpn_id: str, workflow_id: str, seq: int) -> None:
    """Give the grant back (the decline it was claimed for did not happen)."""
    released = session.execute(
        delete(CapacityGrant).where(
            CapacityGrant.mpn_id == mpn_id,
            CapacityGrant.workflow_id == workflow_id,
            CapacityGrant.seq == seq,
        )
    )
    if getattr(released, "rowcount", 0):
        session.execute(update(Partner).where(Partner.mpn_id == mpn_id).values(capacity_declines=0))
