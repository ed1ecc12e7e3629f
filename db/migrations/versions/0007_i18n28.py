"""Portal users' language choice (the partner's own `locale` lives in its profile JSON).

Revision ID: 0007_i18n28
Revises: 0006
Create Date: 2026-12-06 20:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_i18n28"
down_revision: str | None = "0007_hooks30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portal_preferences",
        sa.Column("email", sa.String(320), primary_key=True),
        sa.Column("locale", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("portal_preferences")
