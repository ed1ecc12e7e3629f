"""Matching against the partner directory: the in-memory directory index, pure ranking and
the reservation of the chosen partner."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from db.candidates import index_of, match_and_reserve
from db.engine import run_write
from domain import names
from domain.models import MatchRequest, MatchResult, SlaTerms
from domain.track_record import RankingTerms
from settings import Settings


def sla_terms(settings: Settings) -> SlaTerms:
    """How this deployment counts SLA deadlines (SLA_BUSINESS_DAYS, SLA_OVERRIDE)."""
    override = settings.sla_override
    return SlaTerms(
        business_days=settings.sla_business_days,
        override_seconds=override.total_seconds() if override is not None else None,
    )


class MatchingActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    async def warm_up(self) -> None:
        """Build this process's directory index before the first match needs it."""
        await run_write(self._sessions, index_of)

    @activity.defn(name=names.ACTIVITY_MATCH)
    async def match_partner(self, request: MatchRequest) -> MatchResult:
        """The best eligible partner (reserved) or the reason there is none, with the SLA
        terms the workflow counts the partner's deadlines by. The track record is read here
        and recorded in the result's explanation (`score`), so replay never reads it."""
        terms = ranking_terms(self._settings)
        result = await match_and_reserve(self._sessions, request, datetime.now(UTC), terms)
        return replace(result, terms=sla_terms(self._settings))


def ranking_terms(settings: Settings) -> RankingTerms:
    """How this deployment ranks eligible partners (RANKING, RANKING_BAND, ...)."""
    return RankingTerms(
        mode=settings.ranking,
        band=settings.ranking_band,
        floor=settings.ranking_floor,
        prior_weight=settings.ranking_prior_weight,
        window_days=max(1, settings.ranking_window.days),
    )
