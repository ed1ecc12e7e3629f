"""Operators' named tokens for the admin API: each names the person or system acting, and that
name is what the referral's history records (only the token's SHA-256 is stored)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from db.portal_models import AdminToken
from db.tokens import token_hash
from db.transactions import run_write

ADMIN_TOKEN_PREFIX = "fta_"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")


class AdminTokenError(ValueError):
    """A bad name, or a name already holding an active token (one-line message)."""


@dataclass(frozen=True)
class AdminTokenInfo:
    name: str
    created_at: datetime
    revoked_at: datetime | None


def checked_name(name: str) -> str:
    """The name lower-cased; refused unless 1-64 of `a-z 0-9 . _ @ -`, starting alphanumeric."""
    cleaned = name.strip().lower()
    if not _NAME.match(cleaned):
        raise AdminTokenError(
            f"not a token name: {name[:70]!r} (1-64 of a-z 0-9 . _ @ -, e.g. 'alice' or 'ops-bot')"
        )
    return cleaned


class AdminTokenStore:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def create(self, name: str, now: datetime) -> str:
        """A new token named `name` (refused while that name holds an active one)."""
        name = checked_name(name)
        token = ADMIN_TOKEN_PREFIX + secrets.token_urlsafe(32)

        def work(session: Session) -> None:
            active = session.scalar(
                select(AdminToken.name).where(
                    AdminToken.name == name, AdminToken.revoked_at.is_(None)
                )
            )
            if active is not None:
                raise AdminTokenError(
                    f"{name!r} already has an active token (revoke it first: "
                    f"admin tokens revoke {name})"
                )
            session.add(AdminToken(token_hash=token_hash(token), name=name, created_at=now))

        await run_write(self._sessionmaker, work)
        return token

    async def revoke(self, name: str, now: datetime) -> int:
        """Revoke the name's active tokens; returns how many."""
        name = checked_name(name)

        def work(session: Session) -> int:
            result = session.execute(
                update(AdminToken)
                .where(AdminToken.name == name, AdminToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            return int(getattr(result, "rowcount", 0))

        return await run_write(self._sessionmaker, work)

    async def list(self) -> list[AdminTokenInfo]:
        """Every token ever created, by name then age (revoked ones with their date)."""
        stmt = select(AdminToken).order_by(AdminToken.name, AdminToken.created_at)
        async with self._sessionmaker() as session:
            rows = (await session.scalars(stmt)).all()
        return [AdminTokenInfo(r.name, r.created_at, r.revoked_at) for r in rows]

    async def verify(self, token: str) -> str | None:
        """The name behind an active token, else None."""
        if not token.startswith(ADMIN_TOKEN_PREFIX):
            return None
        stmt = select(AdminToken.name).where(
            AdminToken.token_hash == token_hash(token), AdminToken.revoked_at.is_(None)
        )
        async with self._sessionmaker() as session:
            return await session.scalar(stmt)
