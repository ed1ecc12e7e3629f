"""Email delivery, exactly once per deterministic Message-ID (outbox row in the database).

Temporary SMTP failures raise (the activity retry policy backs off and tries again);
permanent ones are recorded and returned as `failed` so the workflow can tell operations.
The remaining window: a crash after the SMTP server accepted the message but before the
outbox row is marked `sent` makes the retry send it again (with the same Message-ID, so
mail clients that de-duplicate on it show one copy).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from temporalio import activity
from temporalio.exceptions import ApplicationError

from db.outbox import EmailOutbox, OutboxEntry
from domain import names
from domain.links import LinkClaims, link_nonce, sign_link
from domain.models import EmailRequest, EmailResult
from mail.compose import Composed, compose, make_message_id
from mail.smtp import PermanentMailError, TemporaryMailError, deliver
from runtime.metrics import email_outcome
from runtime.settings import Settings

LINK_LIFETIME = timedelta(days=14)


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
    def __init__(self, settings: Settings, outbox: EmailOutbox) -> None:
        self._settings = settings
        self._outbox = outbox

    @property
    def settings(self) -> Settings:
        return self._settings

    def _links(self, request: EmailRequest, message_id: str) -> dict[str, str] | None:
        if request.kind != "notification" or request.partner is None:
            return None
        base = self._settings.portal_url
        expires = (request.due_at or datetime.now(UTC)) + LINK_LIFETIME
        links = {"view": f"{base}/referrals/{request.scope_id}"}
        for action in ("accept", "decline"):
            token = sign_link(
                self._settings.link_secret,
                LinkClaims(
                    request.scope_id,
                    request.partner.mpn_id,
                    action,
                    expires,
                    link_nonce(message_id, action),
                ),
            )
            links[action] = f"{base}/act/{token}"
        return links

    @activity.defn(name=names.ACTIVITY_EMAIL)
    async def send_email(self, request: EmailRequest) -> EmailResult:
        result = await self.send_once(request)
        if result.status == "retry":  # the activity retry policy backs off and tries again
            raise ApplicationError(result.error, type="TemporaryMailError")
        return result

    async def send_once(self, request: EmailRequest) -> EmailResult:
        """One delivery attempt: sent, duplicate (sent before), failed (permanent) or retry
        (temporary failure; the outbox row stays pending)."""
        composed = self.prepare(request)
        status = await self._outbox.begin(outbox_entry(request, composed), datetime.now(UTC))
        return await self.send_begun(composed.message_id, composed.message, request.kind, status)

    def prepare(self, request: EmailRequest) -> Composed:
        """The message, with its deterministic Message-ID and signed links."""
        message_id = make_message_id(request, self._settings)
        return compose(request, self._settings, self._links(request, message_id))

    async def send_begun(
        self, message_id: str, message: EmailMessage, kind: str, status: str
    ) -> EmailResult:
        """Send a message whose outbox row `begin` returned `status` for: duplicate (sent
        before), failed (permanent, now or before), retry (temporary) or sent."""
        if status == "sent":
            return EmailResult(message_id, "duplicate")
        if status == "failed":
            row = await self._outbox.get(message_id)
            return EmailResult(message_id, "failed", row.last_error if row else "")
        # Once handed to the SMTP server, finish recording it even if the activity is
        # cancelled (worker shutdown): a cancelled "accepted but not recorded" would resend.
        return await asyncio.shield(self._deliver_and_record(message_id, message, kind))

    async def _deliver_and_record(
        self, message_id: str, message: EmailMessage, kind: str
    ) -> EmailResult:
        try:
            await deliver(message, self._settings)
        except TemporaryMailError as err:
            await self._outbox.record_error(message_id, str(err))
            return EmailResult(message_id, "retry", str(err))
        except PermanentMailError as err:
            await self._outbox.mark_failed(message_id, str(err), datetime.now(UTC))
            email_outcome(kind, "failed")
            return EmailResult(message_id, "failed", str(err))
        await self._outbox.mark_sent(message_id, datetime.now(UTC))
        email_outcome(kind, "sent")
        return EmailResult(message_id, "sent")
