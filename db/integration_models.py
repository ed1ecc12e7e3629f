"""Tables of the integration layer: the partner's own record id on a referral, webhook
subscriptions, the events queued for them and every delivery attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base, ReferralRecord, TZDateTime

# The incremental sync reads referrals in update order.
Index("ix_referrals_updated", ReferralRecord.updated_at, ReferralRecord.workflow_id)


class ExternalRef(Base):
    """A partner's own record id (its CRM's) for a referral or part it holds or held."""

    __tablename__ = "external_refs"
    __table_args__ = (Index("ix_external_refs_mpn", "mpn_id"),)

    workflow_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    mpn_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    external_ref: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(TZDateTime)


class WebhookSubscription(Base):
    """A partner's endpoint. The signing secret is kept encrypted with the payload key (the
    signature needs it at every delivery, so a one-way hash cannot serve)."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (Index("ix_webhook_subscriptions_mpn", "mpn_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mpn_id: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[Any]] = mapped_column(JSON)  # empty: every event type
    secret: Mapped[str] = mapped_column(Text)  # encrypted (runtime.codec keyring), base64
    created_at: Mapped[datetime] = mapped_column(TZDateTime)
    created_by: Mapped[str] = mapped_column(String(128))
    rotated_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    disabled_reason: Mapped[str] = mapped_column(Text, default="")
    removed_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)


class WebhookEvent(Base):
    """One event for one subscription: its id is stable across retries and "send again"."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_subscription", "subscription_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subscription_id: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64))
    workflow_id: Mapped[str] = mapped_column(String(80))
    occurred_at: Mapped[datetime] = mapped_column(TZDateTime)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed | withheld
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(TZDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)


class WebhookAttempt(Base):
    """One delivery attempt: what happened, how long it took, what the endpoint answered."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_event", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(TZDateTime)
    outcome: Mapped[str] = mapped_column(String(16))  # delivered | http_error | refused | error
    latency_ms: Mapped[int] = mapped_column(Integer)
    response_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")


class OidcLogin(Base):
    """A single sign-on attempt: the state (only its SHA-256), nonce and PKCE verifier, used
    once by the callback within its lifetime."""

    __tablename__ = "oidc_logins"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    next_path: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(TZDateTime)
    expires_at: Mapped[datetime] = mapped_column(TZDateTime)
    used_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
