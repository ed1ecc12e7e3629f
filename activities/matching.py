"""Matching against the partner directory: indexed SQL pre-filter, pure ranking, reservation."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from db.candidates import match_and_reserve
from domain import names
from domain.models import MatchRequest, MatchResult


class MatchingActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=names.ACTIVITY_MATCH)
    async def match_partner(self, request: MatchRequest) -> MatchResult:
        return await match_and_reserve(self._sessions, request, datetime.now(UTC))
