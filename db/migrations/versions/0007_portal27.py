"""Operators' named tokens for the admin API.

Revision ID: 0007_portal27
Revises: 0006
Create Date: 2026-12-06 20:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_portal27"
down_revision: str | None = "0007_seams27"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_admin_tokens_name", "admin_tokens", ["name"])


def downgrade() -> None:
    op.drop_index("ix_admin_tokens_name", table_name="admin_tokens")
    op.drop_table("admin_tokens")
