"""Directory change ticks: `partners.change_tick` (indexed), `partners.profile_tick` and the
one-row `directory_state` counter, so matching processes keep an in-memory directory index
in sync by reading only the partner rows changed since their last refresh.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "directory_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tick", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(sa.text("INSERT INTO directory_state (id, tick) VALUES (1, 0)"))
    op.add_column(
        "partners",
        sa.Column("change_tick", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "partners",
        sa.Column("profile_tick", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.create_index("ix_partners_change_tick", "partners", ["change_tick"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_partners_change_tick", table_name="partners")
    op.drop_column("partners", "profile_tick")
    op.drop_column("partners", "change_tick")
    op.drop_table("directory_state")
