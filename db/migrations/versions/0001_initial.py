"""Initial schema: directory, read model, audit trail, outbox, tokens (= db/models.py).

Revision ID: 0001
Revises:
Create Date: 2026-11-25 14:25:58.534260
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workflow_id", sa.String(length=80), nullable=False),
        sa.Column("referral_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("partner_id", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workflow_id", "seq", name="uq_assignments_workflow_seq"),
    )
    op.create_index(
        "ix_assignments_partner_outcome", "assignments", ["partner_id", "outcome"], unique=False
    )
    op.create_index(
        op.f("ix_assignments_referral_id"), "assignments", ["referral_id"], unique=False
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workflow_id", sa.String(length=80), nullable=False),
        sa.Column("referral_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("refused", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workflow_id", "seq", name="uq_audit_workflow_seq"),
    )
    op.create_index(op.f("ix_audit_events_at"), "audit_events", ["at"], unique=False)
    op.create_index(
        op.f("ix_audit_events_referral_id"), "audit_events", ["referral_id"], unique=False
    )
    op.create_table(
        "email_outbox",
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("workflow_id", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_index(
        op.f("ix_email_outbox_workflow_id"), "email_outbox", ["workflow_id"], unique=False
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("mpn_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("mpn_id", "key"),
    )
    op.create_table(
        "link_uses",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce"),
    )
    op.create_table(
        "partners",
        sa.Column("mpn_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("referral_contact", sa.String(length=320), nullable=False),
        sa.Column("referral_ready", sa.Boolean(), nullable=False),
        sa.Column("benefit_referrals", sa.Boolean(), nullable=False),
        sa.Column("fasttrack_ready", sa.Boolean(), nullable=False),
        sa.Column("min_seats", sa.Integer(), nullable=False),
        sa.Column("max_seats", sa.Integer(), nullable=True),
        sa.Column("home_country", sa.String(length=2), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("paused_until", sa.Date(), nullable=True),
        sa.Column("max_open_referrals", sa.Integer(), nullable=True),
        sa.Column("open_assignments", sa.Integer(), nullable=False),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("capacity_declines", sa.Integer(), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("mpn_id"),
    )
    op.create_index(
        "ix_partners_load", "partners", ["open_assignments", "last_assigned_at"], unique=False
    )
    op.create_index(
        "ix_partners_optin",
        "partners",
        ["referral_ready", "benefit_referrals", "fasttrack_ready"],
        unique=False,
    )
    op.create_index("ix_partners_seats", "partners", ["min_seats", "max_seats"], unique=False)
    op.create_table(
        "referrals",
        sa.Column("workflow_id", sa.String(length=80), nullable=False),
        sa.Column("referral_id", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("partner_id", sa.String(length=32), nullable=True),
        sa.Column("customer_country", sa.String(length=2), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("workloads", sa.JSON(), nullable=False),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("contact_overdue", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("referral", sa.JSON(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id"),
    )
    op.create_index(op.f("ix_referrals_partner_id"), "referrals", ["partner_id"], unique=False)
    op.create_index(op.f("ix_referrals_referral_id"), "referrals", ["referral_id"], unique=False)
    op.create_index(op.f("ix_referrals_status"), "referrals", ["status"], unique=False)
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mpn_id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["mpn_id"], ["partners.mpn_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "partner_countries",
        sa.Column("mpn_id", sa.String(length=32), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(["mpn_id"], ["partners.mpn_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("mpn_id", "country"),
    )
    op.create_index(
        "ix_partner_countries_country", "partner_countries", ["country", "mpn_id"], unique=False
    )
    op.create_table(
        "partner_languages",
        sa.Column("mpn_id", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(["mpn_id"], ["partners.mpn_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("mpn_id", "language"),
    )
    op.create_index(
        "ix_partner_languages_language", "partner_languages", ["language", "mpn_id"], unique=False
    )
    op.create_table(
        "partner_segments",
        sa.Column("mpn_id", sa.String(length=32), nullable=False),
        sa.Column("segment", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["mpn_id"], ["partners.mpn_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("mpn_id", "segment"),
    )
    op.create_index(
        "ix_partner_segments_segment", "partner_segments", ["segment", "mpn_id"], unique=False
    )
    op.create_table(
        "partner_workloads",
        sa.Column("mpn_id", sa.String(length=32), nullable=False),
        sa.Column("workload", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["mpn_id"], ["partners.mpn_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("mpn_id", "workload"),
    )
    op.create_index(
        "ix_partner_workloads_workload", "partner_workloads", ["workload", "mpn_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_partner_workloads_workload", table_name="partner_workloads")
    op.drop_table("partner_workloads")
    op.drop_index("ix_partner_segments_segment", table_name="partner_segments")
    op.drop_table("partner_segments")
    op.drop_index("ix_partner_languages_language", table_name="partner_languages")
    op.drop_table("partner_languages")
    op.drop_index("ix_partner_countries_country", table_name="partner_countries")
    op.drop_table("partner_countries")
    op.drop_table("api_tokens")
    op.drop_index(op.f("ix_referrals_status"), table_name="referrals")
    op.drop_index(op.f("ix_referrals_referral_id"), table_name="referrals")
    op.drop_index(op.f("ix_referrals_partner_id"), table_name="referrals")
    op.drop_table("referrals")
    op.drop_index("ix_partners_seats", table_name="partners")
    op.drop_index("ix_partners_optin", table_name="partners")
    op.drop_index("ix_partners_load", table_name="partners")
    op.drop_table("partners")
    op.drop_table("link_uses")
    op.drop_table("idempotency_keys")
    op.drop_index(op.f("ix_email_outbox_workflow_id"), table_name="email_outbox")
    op.drop_table("email_outbox")
    op.drop_index(op.f("ix_audit_events_referral_id"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_at"), table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_index(op.f("ix_assignments_referral_id"), table_name="assignments")
    op.drop_index("ix_assignments_partner_outcome", table_name="assignments")
    op.drop_table("assignments")
