"""How a portal session was opened (an emailed link or the company account), so that an
operator who signed in by link loses access when the address leaves OPERATOR_EMAILS, also
while OIDC_OPERATOR_CLAIM makes operators; existing sessions count as opened by link.

Revision ID: 0009_session_via
Revises: 0008_partner_locale
Create Date: 2026-12-07 11:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_session_via"
down_revision: str | None = "0008_partner_locale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("portal_sessions") as batch:
        batch.add_column(
            sa.Column("signed_in_with", sa.String(8), nullable=False, server_default="link")
        )


def downgrade() -> None:
    with op.batch_alter_table("portal_sessions") as batch:
        batch.drop_column("signed_in_with")
