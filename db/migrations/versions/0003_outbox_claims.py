"""Outbox claims: `email_outbox.claimed_until`, so that two attempts running at the same time
(a local activity re-run after its workflow was evicted, an activity retried after a timeout
while the first attempt still runs) cannot both send a message: the attempt that claims a
pending row sends it; another one finds the claim and backs off.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 15:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("email_outbox") as batch:
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("email_outbox") as batch:
        batch.drop_column("claimed_until")
