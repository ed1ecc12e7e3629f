"""Email delivery, exactly once per deterministic Message-ID (outbox row in the database).

Temporary SMTP failures raise (the activity retry policy backs off and tries again);
permanent ones are recorded and returned as `failed` so the workflow can tell operations.
The remaining window: a crash after the SMTP server accepted the message but before the
outbox row is marked `sent` makes the retry send it again (with the same Message-ID, so
mail clients that de-duplicate on it show one copy).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.metrics import email_outcome
from db.outbox import BUSY, FAILED, PENDING, SENT, EmailOutbox, OutboxEntry, Outcome
from domain import names
from domain.models import EmailRequest, EmailResult
from mail.compose import Composed, as_sent
from mail.mime import Outgoing
from mail.smtp import MailPool, MailSession, PermanentMailError, TemporaryMailError
from settings import Settings


@dataclass
class Begun:
    """A composed message and the status its outbox row's `begin` returned."""

    message_id: str
    message: Outgoing
    kind: str
    status: str


def outbox_entry(request: EmailRequest, composed: Composed) -> OutboxEntry:
    return OutboxEntry(
        composed.message_id,
        request.scope_id,
        request.kind,
        request.seq,
        composed.to + composed.cc,
        composed.subject,
    )


class EmailActivities:
    def __init__(
        self, settings: Settings, outbox: EmailOutbox, pool: MailPool | None = None
    ) -> None:
        self._settings = settings
        self._outbox = outbox
        self._pool = pool

    @property
    def settings(self) -> Settings:
        return self._settings

    @activity.defn(name=names.ACTIVITY_EMAIL)
    async def send_email(self, request: EmailRequest) -> EmailResult:
        result = await self.send_once(request)
        if result.status == "retry":  # the activity retry policy backs off and tries again
            raise ApplicationError(result.error, type="TemporaryMailError")
        return result

    async def send_once(self, request: EmailRequest) -> EmailResult:
        """One delivery attempt: sent, duplicate (sent before), failed (permanent) or retry
        (temporary failure, or another attempt is sending it; the outbox row stays pending)."""
        composed = self.prepare(request)
        entry = outbox_entry(request, composed)
        _, result = await self.claim_and_send(entry, composed.outgoing, request.kind)
        return result

    def prepare(self, request: EmailRequest) -> Composed:
        """The message, with its deterministic Message-ID and signed links."""
        return as_sent(request, self._settings)

    async def claim_and_send(
        self, entry: OutboxEntry, message: Outgoing, kind: str
    ) -> tuple[str, EmailResult]:
        """`begin` (claim) the message's outbox row, then `send_all` it: the status `begin`
        returned and the result. Shielded from the claim on: a cancelled attempt (worker
        shutdown) still sends and records what it claimed, so neither a claim is left to
        block the next attempt nor an "accepted but not recorded" message sent again."""

        async def claim_then_send() -> tuple[str, EmailResult]:
            status = await self._outbox.begin(entry, datetime.now(UTC))
            [result] = await self.send_all([Begun(entry.message_id, message, kind, status)])
            return status, result

        return await asyncio.shield(claim_then_send())

    async def send_all(self, begun: list[Begun]) -> list[EmailResult]:
        """Send messages whose outbox rows `begin` returned a status for, over one SMTP
        connection, their outcomes recorded in one transaction: duplicate (sent before),
        failed (permanent, now or before), retry (temporary, or another attempt is sending
        it) or sent. Callers shield it together with the `begin` that claimed the rows."""
        results: dict[int, EmailResult] = {}
        pending: list[tuple[int, Begun]] = []
        for i, item in enumerate(begun):
            if item.status == SENT:
                results[i] = EmailResult(item.message_id, "duplicate")
            elif item.status == BUSY:  # another attempt is sending it: look again later
                results[i] = EmailResult(item.message_id, "retry", "another attempt is sending it")
            elif item.status == FAILED:
                row = await self._outbox.get(item.message_id)
                results[i] = EmailResult(item.message_id, "failed", row.last_error if row else "")
            else:
                pending.append((i, item))
        if pending:
            results.update(await self._deliver_and_record(pending))
        return [results[i] for i in range(len(begun))]

    async def _deliver_and_record(self, pending: list[tuple[int, Begun]]) -> dict[int, EmailResult]:
        results: dict[int, EmailResult] = {}
        outcomes: list[Outcome] = []
        async with MailSession(self._settings, self._pool) as session:
            for i, item in pending:
                mid = item.message_id
                try:
                    await session.send(item.message)
                except TemporaryMailError as err:
                    outcomes.append(Outcome(mid, PENDING, str(err)))
                    results[i] = EmailResult(mid, "retry", str(err))
                except PermanentMailError as err:
                    outcomes.append(Outcome(mid, FAILED, str(err)))
                    results[i] = EmailResult(mid, "failed", str(err))
                else:
                    outcomes.append(Outcome(mid, SENT))
                    results[i] = EmailResult(mid, "sent")
        await self._outbox.record(outcomes, datetime.now(UTC))
        for i, item in pending:
            if results[i].status != "retry":
                email_outcome(item.kind, results[i].status)
        return results
