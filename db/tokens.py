"""Partner API tokens (only their SHA-256 is stored), portal idempotency keys and single-use
email links."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from db.audit import Action, Actor, record_event
from db.directory import SYSTEM, UnknownPartner
from db.models import ApiToken, IdempotencyKey, LinkUse, Partner
from db.transactions import insert_ignore, run_write

TOKEN_PREFIX = "ftp_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def issue(self, mpn_id: str, now: datetime, actor: Actor = SYSTEM) -> str:
        """A new API token for the partner (earlier tokens stay valid until revoked)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)

        def work(session: Session) -> None:
            if session.get(Partner, mpn_id) is None:
                raise UnknownPartner(mpn_id)
            session.add(ApiToken(mpn_id=mpn_id, token_hash=token_hash(token), created_at=now))
            record_event(session, now, actor, Action.TOKEN_ISSUED, mpn_id=mpn_id)

        await run_write(self._sessionmaker, work)
        return token

    async def revoke(self, mpn_id: str, now: datetime, actor: Actor = SYSTEM) -> int:
        """Revoke every active token of the partner; returns how many were revoked."""

        def work(session: Session) -> int:
            if session.get(Partner, mpn_id) is None:
                raise UnknownPartner(mpn_id)
            result = session.execute(
                update(ApiToken)
                .where(ApiToken.mpn_id == mpn_id, ApiToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            count = int(getattr(result, "rowcount", 0))
            detail = f"{count} active token(s) revoked"
            record_event(session, now, actor, Action.TOKENS_REVOKED, mpn_id=mpn_id, detail=detail)
            return count

        return await run_write(self._sessionmaker, work)

    async def verify(self, token: str) -> str | None:
        """The MPN ID of an active token, else None."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        stmt = select(ApiToken.mpn_id).where(
            ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None)
        )
        async with self._sessionmaker() as session:
            return await session.scalar(stmt)

    async def remember(
        self,
        mpn_id: str,
        key: str,
        request_hash: str,
        status_code: int,
        body: dict[str, Any],
        now: datetime,
    ) -> None:
        """Store the answer to an Idempotency-Key request (the first stored answer wins)."""

        def work(session: Session) -> None:
            insert_ignore(
                session,
                IdempotencyKey,
                {
                    "mpn_id": mpn_id,
                    "key": key,
                    "request_hash": request_hash,
                    "status_code": status_code,
                    "body": body,
                    "created_at": now,
                },
            )

        await run_write(self._sessionmaker, work)

    async def recall(self, mpn_id: str, key: str) -> tuple[str, int, dict[str, Any]] | None:
        """(request_hash, status_code, body) stored for that key, or None."""
        async with self._sessionmaker() as session:
            row = await session.get(IdempotencyKey, (mpn_id, key))
        return (row.request_hash, row.status_code, row.body) if row else None

    async def use_link(self, nonce: str, now: datetime) -> bool:
        """True the first time a single-use link's nonce is used, False afterwards."""

        def work(session: Session) -> bool:
            return insert_ignore(session, LinkUse, {"nonce": nonce, "used_at": now})

        return await run_write(self._sessionmaker, work)
