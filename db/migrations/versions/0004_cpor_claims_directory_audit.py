"""CPOR claims (`cpor_claims`: customer tenant -> partner, workloads, at most one active claim
per tenant and partner) and the directory audit trail (`directory_events`: who changed a
profile, a pause, a token or a claim, what, when and why).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 22:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cpor_claims",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("mpn_id", sa.String(length=32), nullable=False),
        sa.Column("workloads", sa.JSON(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("referral_id", sa.String(length=64), nullable=True),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=128), nullable=False),
        sa.Column("revoke_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["mpn_id"], ["partners.mpn_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_cpor_claims_tenant", "cpor_claims", ["tenant_id"], unique=False)
    op.create_index("ix_cpor_claims_mpn", "cpor_claims", ["mpn_id"], unique=False)
    op.create_index(
        "uq_cpor_claims_active",
        "cpor_claims",
        ["tenant_id", "mpn_id"],
        unique=True,
        sqlite_where=sa.text("revoked_at IS NULL"),
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_table(
        "directory_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("mpn_id", sa.String(length=32), nullable=True),
        sa.Column("tenant_id", sa.String(length=128), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_directory_events_at", "directory_events", ["at"], unique=False)
    op.create_index("ix_directory_events_mpn_id", "directory_events", ["mpn_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_directory_events_mpn_id", table_name="directory_events")
    op.drop_index("ix_directory_events_at", table_name="directory_events")
    op.drop_table("directory_events")
    op.drop_index("uq_cpor_claims_active", table_name="cpor_claims")
    op.drop_index("ix_cpor_claims_mpn", table_name="cpor_claims")
    op.drop_index("ix_cpor_claims_tenant", table_name="cpor_claims")
    op.drop_table("cpor_claims")
