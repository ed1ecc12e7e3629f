"""Webhook subscriptions, the events queued for them (in the transaction that records the
change: a transactional outbox) and their delivery attempts."""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from db.audit import Actor, record_event
from db.integration_models import ExternalRef, WebhookAttempt, WebhookEvent, WebhookSubscription
from db.models import Partner, ReferralRecord
from db.transactions import insert_ignore, run_write
from domain.models import Snapshot
from domain.visibility import latest_outcome, sees_customer
from domain.webhooks import event_id, events_since, wants

# The referral as the partner's API shows it: (snapshot, partner, its time zone, its record id).
PartnerView = Callable[[Snapshot, str, str, str | None], dict[str, Any]]


class SecretBox(Protocol):
    def seal(self, text: str) -> str: ...
    def open(self, stored: str) -> str: ...


# An event that names the customer, no longer sent once its partner let the referral go.
WITHHELD = "withheld"
# An attempt not made because the endpoint is disabled (or removed); the event stays pending.
DISABLED = "disabled"
QUEUED = "queued"  # "send again" queued the event


@dataclass(frozen=True)
class Subscription:
    id: int
    mpn_id: str
    url: str
    events: list[str]
    created_at: datetime
    created_by: str
    rotated_at: datetime | None
    disabled_at: datetime | None
    disabled_reason: str

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True)
class Delivery:
    """An event with what its endpoint needs to receive it."""

    id: str
    type: str
    subscription_id: int
    mpn_id: str
    url: str
    secret: str
    body: dict[str, Any]
    status: str
    active: bool
    recipient_outcome: str = ""  # the partner's own outcome on the referral now

    @property
    def withheld(self) -> bool:
        """The body shows the customer, and `domain.visibility` no longer lets its partner
        see it (it declined, let it expire, or it was withdrawn since the event)."""
        full = (self.body.get("referral") or {}).get("access") == "full"
        return full and self.recipient_outcome != "" and not sees_customer(self.recipient_outcome)


@dataclass(frozen=True)
class DeliveryRow:
    id: str
    type: str
    subscription_id: int
    workflow_id: str
    occurred_at: datetime
    status: str
    attempts: int
    delivered_at: datetime | None
    last_outcome: str
    last_code: int | None
    last_latency_ms: int | None
    last_error: str


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def _subscription(row: WebhookSubscription) -> Subscription:
    return Subscription(
        id=row.id,
        mpn_id=row.mpn_id,
        url=row.url,
        events=list(row.events),
        created_at=row.created_at,
        created_by=row.created_by,
        rotated_at=row.rotated_at,
        disabled_at=row.disabled_at,
        disabled_reason=row.disabled_reason,
    )


# Built once (with an expanding parameter): it runs in the transaction of every change.
_SUBSCRIBED = select(
    WebhookSubscription.id, WebhookSubscription.mpn_id, WebhookSubscription.events
).where(
    WebhookSubscription.mpn_id.in_(bindparam("b_partners", expanding=True)),
    WebhookSubscription.disabled_at.is_(None),
)


def queue_events(
    session: Session, snapshot: Snapshot, start: int, view: PartnerView, now: datetime
) -> list[str]:
    """Inside the transaction that records the snapshot: one event row per history entry from
    `start` on and active subscription of the partner it concerns. Returns the ids of those
    still pending: the new ones and those an earlier attempt queued but whose result was lost."""
    state = snapshot.state
    found = events_since(state, start)
    if not found:
        return []
    partners = {e.partner for e in found}
    subs = session.connection().execute(_SUBSCRIBED, {"b_partners": sorted(partners)}).all()
    if not subs:
        return []
    zones: dict[str, str] = {
        mpn: zone
        for mpn, zone in session.execute(
            select(Partner.mpn_id, Partner.timezone).where(Partner.mpn_id.in_(partners))
        )
    }
    refs: dict[str, str] = {
        mpn: ref
        for mpn, ref in session.execute(
            select(ExternalRef.mpn_id, ExternalRef.external_ref).where(
                ExternalRef.workflow_id == state.workflow_id
            )
        )
    }
    queued = []
    views: dict[str, dict[str, Any]] = {}
    for event in found:
        for sub in subs:
            if sub.mpn_id != event.partner or not wants(list(sub.events), event.type):
                continue
            if event.partner not in views:
                zone = zones.get(event.partner, "UTC")
                views[event.partner] = view(snapshot, event.partner, zone, refs.get(event.partner))
            eid = event_id(state.workflow_id, event.seq, sub.id)
            body = {
                "id": eid,
                "type": event.type,
                "occurred_at": event.occurred_at.isoformat(),
                "referral": views[event.partner],
            }
            row = {
                "id": eid,
                "subscription_id": sub.id,
                "type": event.type,
                "workflow_id": state.workflow_id,
                "occurred_at": event.occurred_at,
                "body": body,
                "status": "pending",
                "attempts": 0,
                "created_at": now,
                "delivered_at": None,
            }
            insert_ignore(session, WebhookEvent, row)
            queued.append(eid)
    if not queued:
        return []
    pending = set(
        session.scalars(
            select(WebhookEvent.id).where(
                WebhookEvent.id.in_(queued), WebhookEvent.status == "pending"
            )
        )
    )
    return [eid for eid in queued if eid in pending]


class WebhookStore:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self._sessionmaker = sessionmaker
        self._box = box

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self._sessionmaker

    # -- subscriptions --------------------------------------------------------------------

    async def add(
        self, mpn_id: str, url: str, events: list[str], actor: Actor, now: datetime
    ) -> tuple[Subscription, str] | None:
        """A new subscription and its secret (shown once); None for an unknown partner."""
        secret = new_secret()

        def work(session: Session) -> Subscription | None:
            if session.get(Partner, mpn_id) is None:
                return None
            row = WebhookSubscription(
                mpn_id=mpn_id,
                url=url,
                events=events,
                secret=self._box.seal(secret),
                created_at=now,
                created_by=actor.who[:128],
                disabled_reason="",
            )
            session.add(row)
            session.flush()
            record_event(session, now, actor, "webhook_added", mpn_id=mpn_id, detail=url)
            return _subscription(row)

        sub = await run_write(self._sessionmaker, work)
        return (sub, secret) if sub else None

    async def list(self, mpn_id: str | None = None) -> list[Subscription]:
        stmt = select(WebhookSubscription).where(WebhookSubscription.removed_at.is_(None))
        if mpn_id is not None:
            stmt = stmt.where(WebhookSubscription.mpn_id == mpn_id)
        async with self._sessionmaker() as session:
            rows = await session.scalars(stmt.order_by(WebhookSubscription.id))
            return [_subscription(r) for r in rows]

    async def get(self, sub_id: int) -> Subscription | None:
        async with self._sessionmaker() as session:
            row = await session.get(WebhookSubscription, sub_id)
        return _subscription(row) if row and row.removed_at is None else None

    async def remove(self, sub_id: int, actor: Actor, now: datetime) -> Subscription | None:
        """Removed (kept for its deliveries' history, never called again)."""

        def work(session: Session) -> Subscription | None:
            row = session.get(WebhookSubscription, sub_id)
            if row is None or row.removed_at is not None:
                return None
            row.removed_at = now
            row.disabled_at = row.disabled_at or now
            row.disabled_reason = row.disabled_reason or "removed"
            record_event(session, now, actor, "webhook_removed", mpn_id=row.mpn_id, detail=row.url)
            return _subscription(row)

        return await run_write(self._sessionmaker, work)

    async def rotate(self, sub_id: int, actor: Actor, now: datetime) -> str | None:
        """A new secret (shown once), effective for the next delivery; enables it again."""
        secret = new_secret()

        def work(session: Session) -> bool:
            row = session.get(WebhookSubscription, sub_id)
            if row is None or row.removed_at is not None:
                return False
            row.secret, row.rotated_at = self._box.seal(secret), now
            row.disabled_at, row.disabled_reason = None, ""
            record_event(session, now, actor, "webhook_rotated", mpn_id=row.mpn_id, detail=row.url)
            return True

        return secret if await run_write(self._sessionmaker, work) else None

    # -- deliveries -----------------------------------------------------------------------

    async def delivery(self, eid: str) -> Delivery | None:
        async with self._sessionmaker() as session:
            event = await session.get(WebhookEvent, eid)
            if event is None:
                return None
            sub = await session.get(WebhookSubscription, event.subscription_id)
            state = await session.scalar(
                select(ReferralRecord.state).where(ReferralRecord.workflow_id == event.workflow_id)
            )
        if sub is None:
            return None
        assignments = (state or {}).get("assignments", [])
        return Delivery(
            id=event.id,
            type=event.type,
            subscription_id=sub.id,
            mpn_id=sub.mpn_id,
            url=sub.url,
            secret=self._box.open(sub.secret),
            body=dict(event.body),
            status=event.status,
            active=sub.disabled_at is None,
            recipient_outcome=latest_outcome(assignments, sub.mpn_id),
        )

    async def record_attempt(
        self,
        eid: str,
        at: datetime,
        outcome: str,
        latency_ms: int,
        code: int | None,
        error: str,
    ) -> None:
        """One attempt; a delivered one marks the event delivered."""

        def work(session: Session) -> None:
            session.add(
                WebhookAttempt(
                    event_id=eid,
                    at=at,
                    outcome=outcome,
                    latency_ms=latency_ms,
                    response_code=code,
                    error=error[:2000],
                )
            )
            values: dict[str, Any] = {"attempts": WebhookEvent.attempts + 1}
            if outcome == "delivered":
                values |= {"status": "delivered", "delivered_at": at}
            elif outcome == WITHHELD:
                values |= {"status": WITHHELD}
            session.execute(update(WebhookEvent).where(WebhookEvent.id == eid).values(**values))

        await run_write(self._sessionmaker, work)

    async def give_up(self, eid: str, now: datetime, reason: str) -> Subscription | None:
        """The event failed for good: its subscription is disabled (returned when this event
        disabled it, also on a repeated call)."""

        def work(session: Session) -> Subscription | None:
            event = session.get(WebhookEvent, eid)
            if event is None or event.status == "delivered":
                return None
            event.status = "failed"
            sub = session.get(WebhookSubscription, event.subscription_id)
            if sub is None:
                return None
            if sub.disabled_at is not None:  # by this event already (a retry): same answer
                return _subscription(sub) if sub.disabled_reason == reason[:2000] else None
            sub.disabled_at, sub.disabled_reason = now, reason[:2000]
            record_event(
                session, now, Actor("system:webhooks", reason[:200]), "webhook_disabled",
                mpn_id=sub.mpn_id, detail=sub.url,
            )  # fmt: skip
            return _subscription(sub)

        return await run_write(self._sessionmaker, work)

    async def resend(self, eid: str, mpn_id: str | None) -> str | None:
        """Queue an event again ("send again"): same id and body. `mpn_id`: only the
        partner's own. Returns QUEUED, or DISABLED (its endpoint is disabled: nothing is
        queued); None when there is no such event (or not the partner's)."""

        def work(session: Session) -> str | None:
            event = session.get(WebhookEvent, eid)
            if event is None:
                return None
            sub = session.get(WebhookSubscription, event.subscription_id)
            if sub is None or sub.removed_at is not None:
                return None
            if mpn_id is not None and sub.mpn_id != mpn_id:
                return None
            if sub.disabled_at is not None:
                return DISABLED
            event.status = "pending"
            return QUEUED

        return await run_write(self._sessionmaker, work)

    async def recent(self, mpn_id: str, limit: int = 20) -> builtins.list[DeliveryRow]:
        """The partner's latest events, newest first, with their last attempt."""
        async with self._sessionmaker() as session:
            subs = select(WebhookSubscription.id).where(WebhookSubscription.mpn_id == mpn_id)
            events = (
                await session.scalars(
                    select(WebhookEvent)
                    .where(WebhookEvent.subscription_id.in_(subs))
                    .order_by(WebhookEvent.created_at.desc(), WebhookEvent.id)
                    .limit(limit)
                )
            ).all()
            ids = [e.id for e in events]
            last: dict[str, WebhookAttempt] = {}
            if ids:
                for attempt in await session.scalars(
                    select(WebhookAttempt)
                    .where(WebhookAttempt.event_id.in_(ids))
                    .order_by(WebhookAttempt.id)
                ):
                    last[attempt.event_id] = attempt
        return [
            DeliveryRow(
                id=e.id,
                type=e.type,
                subscription_id=e.subscription_id,
                workflow_id=e.workflow_id,
                occurred_at=e.occurred_at,
                status=e.status,
                attempts=e.attempts,
                delivered_at=e.delivered_at,
                last_outcome=last[e.id].outcome if e.id in last else "",
                last_code=last[e.id].response_code if e.id in last else None,
                last_latency_ms=last[e.id].latency_ms if e.id in last else None,
                last_error=last[e.id].error if e.id in last else "",
            )
            for e in events
        ]
