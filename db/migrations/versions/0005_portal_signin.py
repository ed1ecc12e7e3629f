"""Portal web sign-in: sessions, emailed sign-in links, sign-in requests (rate limits); an
index for the newest-first lists.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 22:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portal_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("mpn_id", sa.String(length=32), nullable=True),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_portal_sessions_email", "portal_sessions", ["email"])
    op.create_table(
        "portal_signin_links",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("next_path", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_table(
        "portal_signin_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_portal_signin_requests_email_at", "portal_signin_requests", ["email", "at"]
    )
    op.create_index(
        "ix_portal_signin_requests_client_at", "portal_signin_requests", ["client", "at"]
    )
    op.create_index("ix_referrals_created_at", "referrals", ["created_at", "workflow_id"])


def downgrade() -> None:
    op.drop_index("ix_referrals_created_at", table_name="referrals")
    op.drop_index("ix_portal_signin_requests_client_at", table_name="portal_signin_requests")
    op.drop_index("ix_portal_signin_requests_email_at", table_name="portal_signin_requests")
    op.drop_table("portal_signin_requests")
    op.drop_table("portal_signin_links")
    op.drop_index("ix_portal_sessions_email", table_name="portal_sessions")
    op.drop_table("portal_sessions")
