"""Tables of the portal's web sign-in: sessions, emailed sign-in links, and the sign-in
requests that rate limits count (changes made in the pages go to the directory audit); the
operators' named tokens for the admin API."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base, ReferralRecord, TZDateTime


class PortalSession(Base):
    """A signed-in browser: only the SHA-256 of the cookie's random id is stored."""

    __tablename__ = "portal_sessions"
    __table_args__ = (Index("ix_portal_sessions_email", "email"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))  # partner | operator
    mpn_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(TZDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(TZDateTime)
    expires_at: Mapped[datetime] = mapped_column(TZDateTime)  # absolute expiry
    ended_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    # how it was opened: "link" (an emailed link) or "oidc" (the company account)
    signed_in_with: Mapped[str] = mapped_column(String(8), default="link", server_default="link")


class SignInLink(Base):
    """An emailed sign-in link (only its SHA-256): single use, short-lived."""

    __tablename__ = "portal_signin_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    next_path: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(TZDateTime)
    expires_at: Mapped[datetime] = mapped_column(TZDateTime)
    used_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)


class SignInRequest(Base):
    """One request for a sign-in link, known address or not (what the rate limits count)."""

    __tablename__ = "portal_signin_requests"
    __table_args__ = (
        Index("ix_portal_signin_requests_email_at", "email", "at"),
        Index("ix_portal_signin_requests_client_at", "client", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320))
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(TZDateTime)


class AdminToken(Base):
    """An operator's named token for the admin API (only its SHA-256): the name is recorded as
    the actor of what the token does."""

    __tablename__ = "admin_tokens"
    __table_args__ = (Index("ix_admin_tokens_name", "name"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(TZDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)


# The portal's lists are newest first: an index lets them read one page, not sort every row.
Index("ix_referrals_created_at", ReferralRecord.created_at, ReferralRecord.workflow_id)
