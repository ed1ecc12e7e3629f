"""The portal's web sign-in records: emailed single-use links, server-side sessions with idle
and absolute expiry, and the counts behind the sign-in rate limits."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from db.audit import Actor
from db.engine import run_write
from db.portal_models import PortalSession, SignInLink, SignInRequest

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


class PortalStore:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    # -- sign-in requests and links ------------------------------------------------------

    async def count_requests(self, email: str, client: str, since: datetime) -> tuple[int, int]:
        """(requests for this address, requests from this client) since `since`."""
        async with self._sessionmaker() as session:
            by_email = await session.scalar(
                select(func.count())
                .select_from(SignInRequest)
                .where(SignInRequest.email == email, SignInRequest.at >= since)
            )
            by_client = await session.scalar(
                select(func.count())
                .select_from(SignInRequest)
                .where(SignInRequest.client == client, SignInRequest.at >= since)
            )
        return int(by_email or 0), int(by_client or 0)

    async def record_request(
        self, email: str, client: str, now: datetime, link_for: str | None
    ) -> str | None:
        """Count the request; when `link_for` (the next path) is given, also create a sign-in
        link and return its token (only its hash is stored)."""
        token = secrets.token_urlsafe(32) if link_for is not None else None

        def work(session: Session) -> None:
            session.add(SignInRequest(email=email, client=client, at=now))
            if token is not None and link_for is not None:
                session.add(
                    SignInLink(
                        token_hash=digest(token),
                        email=email,
                        next_path=link_for,
                        created_at=now,
                        expires_at=now + LINK_LIFETIME,
                    )
                )

        await run_write(self._sessionmaker, work)
        return token

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
        self, email: str, role: str, mpn_id: str | None, now: datetime
    ) -> tuple[str, Viewer]:
        """A new session: (the cookie's random id, who it is)."""
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
                )
            )

        await run_write(self._sessionmaker, work)
        return session_id, Viewer(email, role, mpn_id, csrf)

    async def viewer(self, session_id: str, now: datetime) -> Viewer | None:
        """Who the session is, if it is open and neither idle nor past its absolute expiry."""
        key = digest(session_id)
        async with self._sessionmaker() as session:
            row = await session.get(PortalSession, key)
        if row is None or row.ended_at is not None or row.expires_at <= now:
            return None
        if row.last_seen_at + SESSION_IDLE <= now:
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
