"""Track record: monthly counters per partner and the window's sum on the partner row.

Revision ID: 0007_ranking29
Revises: 0006
Create Date: 2026-12-06 20:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_ranking29"
down_revision: str | None = "0007_portal27"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partner_record_months",
        sa.Column("mpn_id", sa.String(32), primary_key=True),
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("counts", sa.JSON(), nullable=False),
    )
    with op.batch_alter_table("partners") as batch:
        batch.add_column(sa.Column("track_record", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("track_record")
    op.drop_table("partner_record_months")
