"""Matching against the partner directory: indexed SQL pre-filter, pure ranking, reservation."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from db.candidates import directory_index, match_and_reserve
from domain import names
from domain.models import MatchRequest, MatchResult


class MatchingActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def warm_up(self) -> None:
        """Build this process's directory index before the first match needs it."""
        async with self._sessions() as session:
            await directory_index(session)

    @activity.defn(name=names.ACTIVITY_MATCH)
    async def match_partner(self, request: MatchRequest) -> MatchResult:
        return await match_and_reserve(self._sessions, request, datetime.now(UTC))
