"""The partner's own language as a column, so that matching reads it with the other columns
(it was only in the profile JSON); existing rows take it from there.

Revision ID: 0008_partner_locale
Revises: 0007_i18n28
Create Date: 2026-12-06 23:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_partner_locale"
down_revision: str | None = "0007_i18n28"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_partners = sa.table(
    "partners",
    sa.column("mpn_id", sa.String),
    sa.column("profile", sa.JSON),
    sa.column("locale", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.add_column(sa.Column("locale", sa.String(16), nullable=False, server_default=""))
    bind = op.get_bind()
    rows = bind.execute(sa.select(_partners.c.mpn_id, _partners.c.profile)).all()
    for mpn_id, profile in rows:
        locale = (profile or {}).get("locale") or ""
        if locale:
            bind.execute(
                _partners.update().where(_partners.c.mpn_id == mpn_id).values(locale=locale)
            )


def downgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("locale")
