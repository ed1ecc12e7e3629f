"""The portal's web sign-in records: emailed single-use links, server-side sessions with idle
and absolute expiry that end when their access is removed, and the counts behind the sign-in
rate limits (counted and recorded in one transaction, so concurrent requests cannot pass)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from db.audit import Actor
from db.engine import run_write
from db.models import Partner
from db.portal_models import PortalSession, SignInLink, SignInRequest
from domain import access

LINK_LIFETIME = timedelta(minutes=15)
SESSION_IDLE = timedelta(hours=2)
SESSION_ABSOLUTE = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Viewer:
    """Who a session belongs to."""

    email: str
    role: str  # partner | operator
    mpn_id: str | None
    csrf: str

    @property
    def actor(self) -> Actor:
        """Who the directory audit records: "operator:EMAIL" or "partner:MPN (EMAIL)"."""
        if self.role == "operator":
            return Actor(f"operator:{self.email}"[:128])
        return Actor(f"partner:{self.mpn_id} ({self.email})"[:128])


@dataclass(frozen=True)
class LinkUse:
    email: str
    next_path: str


@dataclass(frozen=True)
class Limits:
    """Sign-in requests allowed in `window`: per address (past it no more links are made, the
    answer is unchanged) and per client (past it the client is refused)."""

    window: timedelta
    per_address: int
    per_client: int


@dataclass(frozen=True)
class Admission:
    refused: bool  # the client is over its limit: nothing was recorded
    token: str | None  # a new sign-in link to send, if any


# PostgreSQL: requests for one address (and from one client) queue on a transaction lock, so
# each counts the ones committed before it. SQLite runs write transactions one at a time.
_ADDRESS_LOCK, _CLIENT_LOCK = 27001, 27002
_LOCK = text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))")


class PortalStore:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    # -- sign-in requests and links ------------------------------------------------------

    async def admit(
        self, email: str, client: str, now: datetime, limits: Limits, link_for: str | None
    ) -> Admission:
        """Count and record one sign-in request atomically. A link (its token returned, only
        its hash stored) is made when `link_for` (the next path) is given and the address is
        under its limit."""
        since = now - limits.window
        token = secrets.token_urlsafe(32)

        def work(session: Session) -> Admission:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(_LOCK, {"space": _ADDRESS_LOCK, "key": email})
                session.execute(_LOCK, {"space": _CLIENT_LOCK, "key": client})
            by_client = session.scalar(
                select(func.count())
                .select_from(SignInRequest)
                .where(SignInRequest.client == client, SignInRequest.at >= since)
            )
            if int(by_client or 0) >= limits.per_client:
                return Admission(refused=True, token=None)
            by_email = session.scalar(
                select(func.count())
                .select_from(SignInRequest)
                .where(SignInRequest.email == email, SignInRequest.at >= since)
            )
            session.add(SignInRequest(email=email, client=client, at=now))
            if link_for is None or int(by_email or 0) >= limits.per_address:
                return Admission(refused=False, token=None)
            session.add(
                SignInLink(
                    token_hash=digest(token),
                    email=email,
                    next_path=link_for,
                    created_at=now,
                    expires_at=now + LINK_LIFETIME,
                )
            )
            return Admission(refused=False, token=token)

        return await run_write(self._sessionmaker, work)

    async def peek_link(self, token: str, now: datetime) -> LinkUse | str:
        """The link's address and next page, or why it cannot be used (changes nothing)."""
        async with self._sessionmaker() as session:
            link = await session.get(SignInLink, digest(token))
        if link is None:
            return "This sign-in link is not valid."
        if link.used_at is not None:
            return "This sign-in link was already used."
        if link.expires_at <= now:
            return "This sign-in link has expired."
        return LinkUse(link.email, link.next_path)

    async def use_link(self, token: str, now: datetime) -> LinkUse | str:
        """Spend the link (once): its address and next page, or why it cannot be used."""

        def work(session: Session) -> LinkUse | str:
            result = session.execute(
                update(SignInLink)
                .where(
                    SignInLink.token_hash == digest(token),
                    SignInLink.used_at.is_(None),
                    SignInLink.expires_at > now,
                )
                .values(used_at=now)
            )
            if int(getattr(result, "rowcount", 0)) != 1:
                return ""
            link = session.get(SignInLink, digest(token))
            assert link is not None
            return LinkUse(link.email, link.next_path)

        used = await run_write(self._sessionmaker, work)
        if isinstance(used, LinkUse):
            return used
        problem = await self.peek_link(token, now)
        return problem if isinstance(problem, str) else "This sign-in link was already used."

    # -- sessions --------------------------------------------------------------------------

    async def open_session(
        self, email: str, role: str, mpn_id: str | None, now: datetime, via: str = "link"
    ) -> tuple[str, Viewer]:
        """A new session: (the cookie's random id, who it is); `via`: "link" or "oidc"."""
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)

        def work(session: Session) -> None:
            session.add(
                PortalSession(
                    id_hash=digest(session_id),
                    email=email,
                    role=role,
                    mpn_id=mpn_id,
                    csrf=csrf,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + SESSION_ABSOLUTE,
                    signed_in_with=via,
                )
            )

        await run_write(self._sessionmaker, work)
        return session_id, Viewer(email, role, mpn_id, csrf)

    async def viewer(
        self,
        session_id: str,
        now: datetime,
        operators: Collection[str] = (),
        *,
        operators_by_claim: bool = False,
    ) -> Viewer | None:
        """Who the session is, if it is open, neither idle nor past its absolute expiry, and its
        address still has the access it signed in with (an operator listed in `operators`, or
        an operator session opened with the company account when `operators_by_claim`: the
        identity provider's claim granted it at sign-in; a partner's referral contact or
        portal user). A session that lost its access is ended."""
        key = digest(session_id)
        stmt = (
            select(PortalSession, Partner.referral_contact, Partner.profile)
            .outerjoin(Partner, Partner.mpn_id == PortalSession.mpn_id)
            .where(PortalSession.id_hash == key)
        )
        async with self._sessionmaker() as session:
            found = (await session.execute(stmt)).first()
        if found is None:
            return None
        row, contact, profile = found
        if row.ended_at is not None or row.expires_at <= now:
            return None
        if row.last_seen_at + SESSION_IDLE <= now:
            return None
        if row.role == "operator":
            by_claim = operators_by_claim and row.signed_in_with == "oidc"
            allowed = by_claim or access.operator(row.email, operators)
        else:
            users = (profile or {}).get("portal_users") or []
            allowed = contact is not None and access.partner_user(row.email, contact, users)
        if not allowed:
            await self.end_session(session_id, now)
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:

            def work(session: Session) -> None:
                session.execute(
                    update(PortalSession)
                    .where(PortalSession.id_hash == key)
                    .values(last_seen_at=now)
                )

            await run_write(self._sessionmaker, work)
        return Viewer(row.email, row.role, row.mpn_id, row.csrf)

    async def end_session(self, session_id: str, now: datetime) -> None:
        def work(session: Session) -> None:
            session.execute(
                update(PortalSession)
                .where(PortalSession.id_hash == digest(session_id))
                .values(ended_at=now)
            )

        await run_write(self._sessionmaker, work)
