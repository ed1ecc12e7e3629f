"""What a command needs, opened lazily: settings, the Temporal client, the database."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client, RPCTimeoutOrCancelledError

from cli import actor
from cli.errors import unavailable
from db.engine import open_database
from runtime.temporal import connect
from settings import Settings

T = TypeVar("T")

# How long one call may wait for the worker to answer (queries and updates).
ANSWER_TIMEOUT_S = 30.0


class Context:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Client | None = None
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None

    async def client(self) -> Client:
        if self._client is None:
            self._client = await connect(self.settings)
        return self._client

    async def sessions(self) -> async_sessionmaker[AsyncSession]:
        if self._sessions is None:
            settings = self.settings
            self._engine, self._sessions = await open_database(
                settings.database_url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
            )
        return self._sessions

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def answered(self, call: Awaitable[T], what: str) -> T:
        """Await a call that needs a running worker; a silent worker becomes exit 4."""
        try:
            return await asyncio.wait_for(call, ANSWER_TIMEOUT_S)
        except (TimeoutError, RPCTimeoutOrCancelledError):
            raise unavailable(
                f"no answer to {what} within {ANSWER_TIMEOUT_S:.0f}s: is `python worker.py` "
                f"running on task queue '{self.settings.task_queue}'? "
                "(check `referral show` before repeating it)"
            ) from None

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    @staticmethod
    def operator(args: argparse.Namespace | None = None) -> str:
        """`operator:NAME` of the acting person (see `cli.actor`)."""
        return actor.operator(args)
