"""SQLAlchemy models: the partner directory, CPOR claims, the referral read model, the audit
trails, the email outbox and API tokens. Portable between SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend.

    PostgreSQL stores `timestamptz`; SQLite has no time zones and would silently drop the
    offset, so values are converted to UTC before binding and read back as aware UTC.
    Naive values are taken to be UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


TZDateTime = UTCDateTime()


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: TZDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Partner(Base):
    """A partner's referral profile plus the bookkeeping used for fair ranking."""

    __tablename__ = "partners"

    mpn_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    referral_contact: Mapped[str] = mapped_column(String(320))
    referral_ready: Mapped[bool] = mapped_column(Boolean, default=True)
    benefit_referrals: Mapped[bool] = mapped_column(Boolean, default=False)
    fasttrack_ready: Mapped[bool] = mapped_column(Boolean, default=False)
    min_seats: Mapped[int] = mapped_column(Integer, default=0)
    max_seats: Mapped[int | None] = mapped_column(Integer, nullable=True)
    home_country: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64))
    paused_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    max_open_referrals: Mapped[int | None] = mapped_column(Integer, nullable=True)
    locale: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # bookkeeping (not part of the imported profile)
    open_assignments: Mapped[int] = mapped_column(Integer, default=0)
    last_assigned_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    capacity_declines: Mapped[int] = mapped_column(Integer, default=0)
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)  # the contract JSON as imported
    created_at: Mapped[datetime] = mapped_column(TZDateTime)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime)
    # `directory_state.tick` of the row's last change (profile, pause or load): matching
    # processes refresh their in-memory directory index from the rows changed since.
    change_tick: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # the tick of the last import that changed the profile (its side rows may have changed)
    profile_tick: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # counts the profile's changes (edits, imports, pauses): the portal's optimistic saves
    version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # the track record over the ranking window (`domain.models.TrackRecord` counters), summed
    # from `partner_record_months` whenever one of the partner's offers changes
    track_record: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        Index("ix_partners_optin", "referral_ready", "benefit_referrals", "fasttrack_ready"),
        Index("ix_partners_seats", "min_seats", "max_seats"),
        Index("ix_partners_load", "open_assignments", "last_assigned_at"),
        Index("ix_partners_change_tick", "change_tick"),
    )


class DirectoryState(Base):
    """One row (id 1): `tick` counts the committed changes to partner rows.

    Every transaction that changes a partner row (import, pause / resume, load bookkeeping)
    first bumps `tick` (`db.candidates.bump_tick`, which holds the row lock until commit, so
    ticks commit in order) and stamps the rows it changes with it (`partners.change_tick`).
    """

    __tablename__ = "directory_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tick: Mapped[int] = mapped_column(Integer, default=0)


class PartnerRecordMonth(Base):
    """A partner's track-record counters for the offers made in one month (its first day)."""

    __tablename__ = "partner_record_months"

    mpn_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)


class PartnerWorkload(Base):
    __tablename__ = "partner_workloads"
    mpn_id: Mapped[str] = mapped_column(
        ForeignKey("partners.mpn_id", ondelete="CASCADE"), primary_key=True
    )
    workload: Mapped[str] = mapped_column(String(32), primary_key=True)
    __table_args__ = (Index("ix_partner_workloads_workload", "workload", "mpn_id"),)


class PartnerLanguage(Base):
    __tablename__ = "partner_languages"
    mpn_id: Mapped[str] = mapped_column(
        ForeignKey("partners.mpn_id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    __table_args__ = (Index("ix_partner_languages_language", "language", "mpn_id"),)


class PartnerCountry(Base):
    """Countries served: the home country and the further countries."""

    __tablename__ = "partner_countries"
    mpn_id: Mapped[str] = mapped_column(
        ForeignKey("partners.mpn_id", ondelete="CASCADE"), primary_key=True
    )
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    __table_args__ = (Index("ix_partner_countries_country", "country", "mpn_id"),)


class PartnerSegment(Base):
    """Special segments served (education, government, nonprofit). Commercial needs no row."""

    __tablename__ = "partner_segments"
    mpn_id: Mapped[str] = mapped_column(
        ForeignKey("partners.mpn_id", ondelete="CASCADE"), primary_key=True
    )
    segment: Mapped[str] = mapped_column(String(16), primary_key=True)
    __table_args__ = (Index("ix_partner_segments_segment", "segment", "mpn_id"),)


class CporClaim(Base):
    """A partner's claim (CPOR) on a customer tenant for some workloads. A revoked claim
    stays as history; at most one claim per (tenant, partner) is active."""

    __tablename__ = "cpor_claims"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(128))
    mpn_id: Mapped[str] = mapped_column(ForeignKey("partners.mpn_id", ondelete="CASCADE"))
    workloads: Mapped[list[Any]] = mapped_column(JSON)
    claimed_at: Mapped[datetime] = mapped_column(TZDateTime)
    source: Mapped[str] = mapped_column(String(16))  # import | partner
    referral_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    recorded_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(TZDateTime)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    revoked_by: Mapped[str] = mapped_column(String(128), default="")
    revoke_reason: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_cpor_claims_tenant", "tenant_id"),
        Index("ix_cpor_claims_mpn", "mpn_id"),
        Index(
            "uq_cpor_claims_active",
            "tenant_id",
            "mpn_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )


class DirectoryEvent(Base):
    """Who changed the directory (profiles, pauses, tokens, claims), what, when and why."""

    __tablename__ = "directory_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(TZDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    mpn_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    tenant_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")


class ReferralRecord(Base):
    """Read model of one referral or split part (workflow_id = referral id, or part id)."""

    __tablename__ = "referrals"

    workflow_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    referral_id: Mapped[str] = mapped_column(String(64), index=True)
    parent_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    partner_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    customer_country: Mapped[str] = mapped_column(String(2))
    seats: Mapped[int] = mapped_column(Integer)
    workloads: Mapped[list[Any]] = mapped_column(JSON)
    sla_due_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(TZDateTime)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    # the watchdog's deadline (domain.watchdog.waits_until), migration 0007
    waits_until: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True, index=True)
    referral: Mapped[dict[str, Any]] = mapped_column(JSON)  # the contract JSON
    state: Mapped[dict[str, Any]] = mapped_column(JSON)  # last ReferralState snapshot


class AssignmentRecord(Base):
    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workflow_id: Mapped[str] = mapped_column(String(80))
    referral_id: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    partner_id: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    assigned_at: Mapped[datetime] = mapped_column(TZDateTime)
    due_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    notified_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    reason: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    explanation: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (
        UniqueConstraint("workflow_id", "seq", name="uq_assignments_workflow_seq"),
        Index("ix_assignments_partner_outcome", "partner_id", "outcome"),
    )


class AuditEvent(Base):
    """Who did what, when and why. `seq` is the entry's index in the workflow's history."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workflow_id: Mapped[str] = mapped_column(String(80))
    referral_id: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(TZDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
    refused: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (UniqueConstraint("workflow_id", "seq", name="uq_audit_workflow_seq"),)


class OutboxMessage(Base):
    """Every email, keyed by its deterministic Message-ID: the exactly-once ledger."""

    __tablename__ = "email_outbox"

    message_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(80), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    recipients: Mapped[list[Any]] = mapped_column(JSON)
    subject: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    # while an attempt is sending a pending message, no other attempt may (until this passes)
    claimed_until: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mpn_id: Mapped[str] = mapped_column(ForeignKey("partners.mpn_id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)


class IdempotencyKey(Base):
    """Portal requests replayed with the same Idempotency-Key return the first answer."""

    __tablename__ = "idempotency_keys"

    mpn_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(TZDateTime)


class LinkUse(Base):
    """Single-use email action links: a row once a signed link has been used."""

    __tablename__ = "link_uses"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(TZDateTime)


__all__ = [
    "ApiToken",
    "AssignmentRecord",
    "AuditEvent",
    "Base",
    "CporClaim",
    "DirectoryEvent",
    "DirectoryState",
    "IdempotencyKey",
    "LinkUse",
    "OutboxMessage",
    "Partner",
    "PartnerCountry",
    "PartnerLanguage",
    "PartnerSegment",
    "PartnerWorkload",
    "ReferralRecord",
]


class CapacityGrant(Base):
    """The one "partner at capacity" decline a partner is granted, and the assignment it
    went to (the primary key makes the grant atomic)."""

    __tablename__ = "capacity_grants"

    mpn_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(200))
    seq: Mapped[int] = mapped_column(Integer)
    granted_at: Mapped[datetime] = mapped_column(TZDateTime)
