"""Each portal user's language (by sign-in address): chosen in the page header, kept across
sessions. Without a choice a partner's users get the partner's locale, operators
PROGRAM_LOCALE."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, Session, mapped_column

from db.models import Base, TZDateTime
from db.transactions import run_write


class PortalPreference(Base):
    __tablename__ = "portal_preferences"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    locale: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(TZDateTime)


class PreferenceStore:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def locale(self, email: str) -> str | None:
        async with self._sessionmaker() as session:
            row = await session.get(PortalPreference, email.lower())
        return row.locale if row else None

    async def set_locale(self, email: str, locale: str, now: datetime) -> None:
        key = email.lower()

        def work(session: Session) -> None:
            row = session.get(PortalPreference, key)
            if row is None:
                session.add(PortalPreference(email=key, locale=locale, updated_at=now))
            else:
                row.locale, row.updated_at = locale, now

        await run_write(self._sessionmaker, work)
