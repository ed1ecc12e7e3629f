"""Operators' single sign-on attempts: stored when the redirect to the issuer leaves, used
once by the callback within their lifetime (a replayed state finds nothing)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from db.integration_models import OidcLogin
from db.transactions import run_write

LIFETIME = timedelta(minutes=10)


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


@dataclass(frozen=True)
class Pending:
    nonce: str
    code_verifier: str
    next_path: str


class SsoStore:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def begin(
        self, state: str, nonce: str, code_verifier: str, next_path: str, now: datetime
    ) -> None:
        def work(session: Session) -> None:
            session.execute(delete(OidcLogin).where(OidcLogin.expires_at < now - LIFETIME))
            session.add(
                OidcLogin(
                    state_hash=_hash(state),
                    nonce=nonce,
                    code_verifier=code_verifier,
                    next_path=next_path,
                    created_at=now,
                    expires_at=now + LIFETIME,
                )
            )

        await run_write(self._sessionmaker, work)

    async def use(self, state: str, now: datetime) -> Pending | None:
        """The attempt behind `state`, marked used; None when unknown, used or expired."""

        def work(session: Session) -> Pending | None:
            claimed = session.execute(
                update(OidcLogin)
                .where(
                    OidcLogin.state_hash == _hash(state),
                    OidcLogin.used_at.is_(None),
                    OidcLogin.expires_at > now,
                )
                .values(used_at=now)
            )
            if getattr(claimed, "rowcount", 0) != 1:
                return None
            row = session.get(OidcLogin, _hash(state))
            assert row is not None
            return Pending(row.nonce, row.code_verifier, row.next_path)

        return await run_write(self._sessionmaker, work)
