"""The watchdog's deadline: the moment each referral or part must have moved on its own.

Revision ID: 0007_split31
Revises: 0006
Create Date: 2026-12-06 20:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_split31"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("waits_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_referrals_waits_until", "referrals", ["waits_until"])


def downgrade() -> None:
    op.drop_index("ix_referrals_waits_until", table_name="referrals")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("waits_until")
