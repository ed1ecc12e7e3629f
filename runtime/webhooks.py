"""What the CLI and the portal do with webhook subscriptions: subscribe (rules checked, the
host resolved and its addresses checked) and send an event again (a new delivery workflow for
the same event id and body)."""

from __future__ import annotations

import uuid
from datetime import datetime

from temporalio.client import Client

from db.audit import Actor
from db.webhooks import QUEUED, Subscription, WebhookStore
from domain import names
from domain.models import WebhookJob
from domain.webhooks import WebhookRuleError, check_url, parse_events
from mail.webhook_http import resolve_checked
from settings import Settings


class UnknownPartnerError(LookupError):
    pass


async def subscribe(
    store: WebhookStore,
    settings: Settings,
    mpn_id: str,
    url: str,
    events: str,
    actor: Actor,
    now: datetime,
) -> tuple[Subscription, str]:
    """The new subscription and its secret; WebhookRuleError (one line) for a URL or an
    event list that breaks the rules, UnknownPartnerError for an unknown partner."""
    allow_insecure = settings.webhook_allow_insecure
    url = check_url(url, allow_insecure)
    kinds = parse_events(events)
    _, refusal = await resolve_checked(url, allow_insecure)
    if refusal:
        raise WebhookRuleError(refusal)
    added = await store.add(mpn_id, url, kinds, actor, now)
    if added is None:
        raise UnknownPartnerError(f"unknown partner {mpn_id}")
    return added


async def send_again(
    client: Client, store: WebhookStore, settings: Settings, event_id: str, mpn_id: str | None
) -> str | None:
    """Deliver an event again (same id, same body): QUEUED, or DISABLED when its endpoint is
    disabled (nothing is sent); None when it is not there (or, with `mpn_id`, not that
    partner's)."""
    answer = await store.resend(event_id, mpn_id)
    if answer != QUEUED:
        return answer
    await client.start_workflow(
        names.WORKFLOW_WEBHOOK,
        WebhookJob(event_id, settings.webhook_give_up.total_seconds()),
        id=f"webhook-{event_id}-again-{uuid.uuid4().hex[:8]}",
        task_queue=settings.task_queue,
        static_summary=f"webhook event {event_id}, sent again",
    )
    return QUEUED
