"""The CPOR claims lookup matching runs inside its transaction: a customer tenant's active
claims (kept apart from `db.claims`, which depends on the directory module)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Connection, Table, bindparam, select
from sqlalchemy.orm import Session

from db.models import CporClaim
from domain.claims import Claim, tenant_key

_CLAIMS = cast(Table, CporClaim.__table__)
# Built once, executed with a parameter (every match with a tenant runs it).
_ACTIVE_OF_TENANT = (
    select(
        _CLAIMS.c.tenant_id,
        _CLAIMS.c.mpn_id,
        _CLAIMS.c.workloads,
        _CLAIMS.c.claimed_at,
        _CLAIMS.c.source,
    )
    .where(_CLAIMS.c.tenant_id == bindparam("b_tenant"), _CLAIMS.c.revoked_at.is_(None))
    .order_by(_CLAIMS.c.mpn_id)
)


def active_claims(session: Session | Connection, tenant_id: str) -> list[Claim]:
    """The tenant's active claims (empty for an empty tenant id), by MPN ID."""
    tenant = tenant_key(tenant_id)
    if not tenant:
        return []
    conn = session if isinstance(session, Connection) else session.connection()
    rows = conn.execute(_ACTIVE_OF_TENANT, {"b_tenant": tenant})
    return [Claim(r.tenant_id, r.mpn_id, tuple(r.workloads), r.claimed_at, r.source) for r in rows]
