"""Webhook delivery: one signed POST per attempt (the workflow's retry policy backs off), each
attempt recorded; after the give-up window the subscription is disabled and the partner's
referral contact and operations are told by email."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from email.utils import parseaddr

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.email import EmailActivities
from db.directory import PartnerDirectory
from db.outbox import OutboxEntry
from db.webhooks import DISABLED, WITHHELD, Delivery, Subscription, WebhookStore
from domain import names
from domain.models import WebhookJob
from domain.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, check_url, sign
from mail import formats, i18n
from mail.compose import build_message, render
from mail.webhook_http import HttpOutcome, post_event
from settings import Settings

KIND = "webhook_disabled"
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def body_bytes(delivery: Delivery) -> bytes:
    """The event as sent: the same bytes on every attempt."""
    return json.dumps(delivery.body, separators=(",", ":"), ensure_ascii=False).encode()


def compose_disabled(
    sub: Subscription, partner_name: str, event_id: str, hours: float, tag: str, settings: Settings
) -> tuple[str, str, str]:
    """(subject, text, HTML) of the webhook-disabled email, in `tag`: the partner's language,
    as its referral contact is the first reader."""
    with i18n.using(tag):
        subject = i18n._(
            "FastTrack webhook disabled for partner %(mpn_id)s: %(url)s",
            mpn_id=sub.mpn_id,
            url=sub.url,
        )[:300]
        context = {
            "subject": subject,
            "tone": "ops",
            "banner": i18n._("FastTrack referrals · Integrations"),
            "locale": tag,
            "mpn_id": sub.mpn_id,
            "partner_name": partner_name,
            "url": sub.url,
            "reason": i18n._(
                "Event %(event_id)s was not delivered within %(hours)s hours.",
                event_id=event_id,
                hours=formats.number(hours),
            ),
            "event_id": event_id,
            "portal_url": settings.portal_url,
            "ops_email": settings.ops_email,
        }
        text, html = render(KIND, context)
    return subject, text, html


class WebhookActivities:
    def __init__(self, store: WebhookStore, email: EmailActivities) -> None:
        self._store = store
        self._email = email
        self._directory = PartnerDirectory(store.sessionmaker)

    @activity.defn(name=names.ACTIVITY_DELIVER_WEBHOOK)
    async def deliver_webhook(self, job: WebhookJob) -> str:
        """`delivered`, `skipped` (already delivered), `disabled` (the subscription was
        disabled or removed meanwhile: recorded as an attempt, the event stays pending for
        "send again" once it is enabled) or `withheld` (`Delivery.withheld`); a failed attempt
        raises, so the retry policy tries again."""
        delivery = await self._store.delivery(job.event_id)
        if delivery is None or delivery.status == "delivered":
            return "skipped"
        now = datetime.now(UTC)
        if not delivery.active:
            await self._store.record_attempt(delivery.id, now, DISABLED, 0, None, "")
            return DISABLED
        allow_insecure = self._email.settings.webhook_allow_insecure
        if delivery.withheld:
            why = "the partner let the referral go: its customer data is not sent"
            await self._store.record_attempt(delivery.id, now, WITHHELD, 0, None, why)
            return WITHHELD
        try:
            url = check_url(delivery.url, allow_insecure)
        except ValueError as err:
            outcome = HttpOutcome("refused", None, 0, str(err))
        else:
            body = body_bytes(delivery)
            headers = {
                SIGNATURE_HEADER: sign(delivery.secret, int(time.time()), body),
                EVENT_ID_HEADER: delivery.id,
            }
            outcome = await post_event(url, body, headers, allow_insecure)
        await self._store.record_attempt(
            delivery.id, now, outcome.outcome, outcome.latency_ms, outcome.code, outcome.error
        )
        if outcome.outcome == "delivered":
            return "delivered"
        raise ApplicationError(outcome.error or outcome.outcome, type="WebhookNotDelivered")

    @activity.defn(name=names.ACTIVITY_WEBHOOK_GAVE_UP)
    async def webhook_gave_up(self, job: WebhookJob) -> str:
        """Disable the subscription and email the partner's contact and operations (once:
        the outbox keys the message by the subscription and the time it was disabled)."""
        hours = job.give_up_s / 3600
        reason = f"event {job.event_id} was not delivered within {hours:g} hours"
        now = datetime.now(UTC)
        sub = await self._store.give_up(job.event_id, now, reason)
        if sub is None:
            return "already disabled"
        record = await self._directory.get(sub.mpn_id)
        settings = self._email.settings
        to = [settings.ops_email]
        if record is not None:
            to.insert(0, record.profile.referral_contact)
        tag = record.profile.effective_locale if record else settings.program_locale
        name = record.profile.name if record else sub.mpn_id
        subject, text, html = compose_disabled(sub, name, job.event_id, hours, tag, settings)
        domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "fasttrack.localhost"
        disabled_at = sub.disabled_at or now
        scope = f"webhook-{sub.id}-{int(disabled_at.timestamp())}"
        message_id = f"<{_ID_UNSAFE.sub('-', scope)}.{KIND}@{domain}>"
        message = build_message(
            message_id, settings.mail_from, to, [], subject, text, html,
            {"X-FastTrack-Kind": KIND, "Content-Language": tag}, now,
        )  # fmt: skip
        entry = OutboxEntry(message_id, scope, KIND, 0, to, subject)
        _, sent = await self._email.claim_and_send(entry, message, KIND)
        if sent.status == "retry":
            raise ApplicationError(sent.error, type="TemporaryMailError")
        return f"disabled; email {sent.status}"
