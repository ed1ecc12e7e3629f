"""One round trip for a referral's side effects: the read model, then its emails.

A workflow change usually means "record the new state and tell people"; doing both in one
activity halves the Temporal round trips of the happy path. The new state and the outbox
rows of its emails are written in one transaction (a transactional outbox), then each email
is sent and marked sent. Safe to retry as a whole: the snapshot write is idempotent and the
outbox sends each Message-ID at most once. A temporary SMTP failure does not fail the
activity (the state is recorded): that email comes back as `retry` and the workflow hands it
to `send_email`, which backs off.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.email import EmailActivities, outbox_entry
from db.engine import run_write
from db.outbox import EmailOutbox
from db.readmodel import ReferralReadModel
from domain import names
from domain.models import Publication, PublishResult


class PublishActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        read_model: ReferralReadModel,
        email: EmailActivities,
    ) -> None:
        self._sessions = sessions
        self._read_model = read_model
        self._email = email

    @activity.defn(name=names.ACTIVITY_PUBLISH)
    async def publish_changes(self, publication: Publication) -> PublishResult:
        messages = [self._email.prepare(request) for request in publication.emails]
        entries = [outbox_entry(r, m) for r, m in zip(publication.emails, messages, strict=True)]
        now = datetime.now(UTC)

        async def record(session: AsyncSession) -> list[str]:
            if publication.snapshot is not None:
                await self._read_model.write(session, publication.snapshot, now)
            return [await EmailOutbox.begin_in(session, entry, now) for entry in entries]

        statuses = await run_write(self._sessions, record)
        result = PublishResult()
        for request, message, status in zip(publication.emails, messages, statuses, strict=True):
            result.emails.append(await self._email.send_begun(message, request.kind, status))
        return result
