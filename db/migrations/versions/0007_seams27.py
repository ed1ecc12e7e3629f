"""Profile versions for the portal's optimistic saves; the notification time of assignments
(where "time to accept" starts).

Revision ID: 0007_seams27
Revises: 0006
Create Date: 2026-12-06 20:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_seams27"
down_revision: str | None = "0007_split31"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.add_column(
            sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("notified_at")
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("version")
