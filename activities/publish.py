"""One round trip for a referral's side effects: the read model, then its emails.

A workflow change usually means "record the new state and tell people"; doing both in one
activity halves the Temporal round trips of the happy path. The new state and the outbox
rows of its emails are written in one transaction (a transactional outbox), then each email
is sent and marked sent. Safe to retry as a whole: the snapshot write is idempotent and the
outbox sends each Message-ID at most once. A temporary SMTP failure does not fail the
activity (the state is recorded): that email comes back as `retry` and the workflow hands it
to `send_email`, which backs off. The emails of one change share an SMTP connection and
their outcomes are recorded in one transaction.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from temporalio import activity

from activities.email import Begun, EmailActivities, outbox_entry
from db.engine import run_write
from db.outbox import EmailOutbox
from db.readmodel import ReferralReadModel
from db.webhooks import PartnerView, queue_events
from domain import names
from domain.models import EmailRequest, EmailResult, Publication, PublishResult, WebhookJob
from mail.compose import Composed, make_message_id


class PublishActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        read_model: ReferralReadModel,
        email: EmailActivities,
        partner_view: PartnerView | None = None,
    ) -> None:
        self._sessions = sessions
        self._read_model = read_model
        self._email = email
        self._partner_view = partner_view  # None: no webhook events are queued

    @activity.defn(name=names.ACTIVITY_PUBLISH)
    async def publish_changes(self, publication: Publication) -> PublishResult:
        # Shielded, as EmailActivities.claim_and_send: once the outbox rows are claimed,
        # finish (send, record the outcomes) even if this attempt is cancelled — its workflow
        # left the cache, the worker stops — so no claim is left to block the next attempt.
        return await asyncio.shield(self._publish(publication))

    async def _publish(self, publication: Publication) -> PublishResult:
        composed: list[Composed | EmailResult] = [
            self._compose(request) for request in publication.emails
        ]
        entries = [
            outbox_entry(request, message)
            for request, message in zip(publication.emails, composed, strict=True)
            if isinstance(message, Composed)
        ]

        def record(session: Session) -> tuple[list[str], list[str]]:
            # stamped in the transaction: on SQLite's one writer the rows' update times follow
            # the commit order, which the partner API's sync pages by (portal.sync.SETTLE)
            now = datetime.now(UTC)
            events: list[str] = []
            snapshot = publication.snapshot
            if snapshot is not None:
                before = self._read_model.write(session, snapshot, now)
                if before is not None and self._partner_view is not None:
                    start = min(before, publication.published)
                    events = queue_events(session, snapshot, start, self._partner_view, now)
            return [EmailOutbox.begin_in(session, entry, now) for entry in entries], events

        recorded, events = await run_write(self._sessions, record)
        statuses = iter(recorded)
        begun = [
            Begun(message.message_id, message.outgoing, request.kind, next(statuses))
            for request, message in zip(publication.emails, composed, strict=True)
            if isinstance(message, Composed)
        ]
        sent = iter(await self._email.send_all(begun))
        give_up = self._email.settings.webhook_give_up.total_seconds()
        return PublishResult(
            emails=[m if isinstance(m, EmailResult) else next(sent) for m in composed],
            webhooks=[WebhookJob(e, give_up) for e in events],
        )

    def _compose(self, request: EmailRequest) -> Composed | EmailResult:
        """The message, or a permanent failure when it cannot be composed (a bad request or
        template fails the same way on every retry; it must not hold the state's record)."""
        try:
            return self._email.prepare(request)
        except Exception as err:  # deterministic: reported to operations as a failed email
            message_id = make_message_id(request, self._email.settings)
            return EmailResult(message_id, "failed", f"cannot compose: {err}")
