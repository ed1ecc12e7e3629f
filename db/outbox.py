"""The email outbox: one row per deterministic Message-ID, the exactly-once ledger.

A sender calls `begin` before delivering: "sent" and "failed" mean do not send; "busy" means
another attempt is sending it right now (its claim has not expired): do not send, try again
later; "pending" means this attempt holds the claim (`claimed_until`) and must send now,
then `record` the outcome (an `Outcome`: SENT; FAILED, permanent, never downgrading a
delivered message; PENDING with the error of a temporary failure that will be retried),
which ends the claim. `attempts` counts delivery attempts started. Claims make this hold for
attempts that run at the same time, too (a local activity re-run after its workflow left the
cache; an activity retried after a timeout while its first attempt still runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from db.models import OutboxMessage
from db.transactions import insert_ignore, run_write, table_of

PENDING = "pending"
BUSY = "busy"  # returned by `begin` only: another attempt holds the claim
# How long an attempt may take to send what it claimed (SMTP timeouts included); a crashed
# attempt's claim blocks other attempts for at most this long.
CLAIM = timedelta(minutes=2)
SENT = "sent"
FAILED = "failed"


class UnknownMessage(KeyError):
    def __init__(self, message_id: str) -> None:
        super().__init__(message_id)
        self.message_id = message_id

    def __str__(self) -> str:
        return f"no outbox entry for Message-ID {self.message_id!r}"


@dataclass
class OutboxEntry:
    """What `begin` records about a message before it is sent."""

    message_id: str
    workflow_id: str
    kind: str
    seq: int
    recipients: list[str]
    subject: str


_OUTBOX = table_of(OutboxMessage)
_THIS = _OUTBOX.c.message_id == bindparam("b_message_id")
# built once, executed with parameters (cached compiled forms)
_UNLESS_SENT = update(_OUTBOX).where(_THIS, _OUTBOX.c.status != SENT)  # never downgrade
_KEEP_PENDING = update(_OUTBOX).where(_THIS, _OUTBOX.c.status == PENDING)
_CLAIM = (
    update(_OUTBOX)
    .where(
        _THIS,
        _OUTBOX.c.status == PENDING,
        or_(_OUTBOX.c.claimed_until.is_(None), _OUTBOX.c.claimed_until < bindparam("b_now")),
    )
    .values(claimed_until=bindparam("b_until"), attempts=_OUTBOX.c.attempts + 1)
)


@dataclass
class Outcome:
    """What one delivery attempt came to (see `EmailOutbox.record`)."""

    message_id: str
    status: str  # SENT, FAILED, or PENDING (a temporary failure)
    error: str = ""


@dataclass
class OutboxRow(OutboxEntry):
    status: str
    attempts: int
    last_error: str
    created_at: datetime
    sent_at: datetime | None


def _row(m: OutboxMessage) -> OutboxRow:
    return OutboxRow(
        message_id=m.message_id,
        workflow_id=m.workflow_id,
        kind=m.kind,
        seq=m.seq,
        recipients=list(m.recipients),
        subject=m.subject,
        status=m.status,
        attempts=m.attempts,
        last_error=m.last_error,
        created_at=m.created_at,
        sent_at=m.sent_at,
    )


class EmailOutbox:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def begin(self, entry: OutboxEntry, now: datetime) -> str:
        """Ensure the row exists and claim it; return its status ("pending": the caller holds
        the claim and should send; "busy": another attempt does)."""
        return await run_write(self._sessionmaker, lambda s: self.begin_in(s, entry, now))

    @staticmethod
    def begin_in(session: Session, entry: OutboxEntry, now: datetime) -> str:
        """`begin` inside the caller's write transaction (e.g. with the state it reports)."""
        values = {
            "message_id": entry.message_id,
            "workflow_id": entry.workflow_id,
            "kind": entry.kind,
            "seq": entry.seq,
            "recipients": list(entry.recipients),
            "subject": entry.subject,
            "status": PENDING,
            "attempts": 1,
            "last_error": "",
            "created_at": now,
            "claimed_until": now + CLAIM,
        }
        if insert_ignore(session, OutboxMessage, values):
            return PENDING  # the usual case: a new message, one statement
        conn = session.connection()
        claimed = conn.execute(
            _CLAIM, {"b_message_id": entry.message_id, "b_now": now, "b_until": now + CLAIM}
        )
        if getattr(claimed, "rowcount", 0) == 1:
            return PENDING  # pending and unclaimed (or its claim expired): this attempt sends
        row = session.get(OutboxMessage, entry.message_id)
        if row is None:  # deleted in between: cannot happen while rows are kept
            raise UnknownMessage(entry.message_id)
        return BUSY if row.status == PENDING else row.status

    async def record(self, outcomes: list[Outcome], now: datetime | None) -> None:
        """Delivery attempts' outcomes in one transaction: SENT marks a message sent, FAILED
        failed (never a delivered one), PENDING keeps it pending with the temporary error.
        Raises `UnknownMessage` for a Message-ID that was never begun."""

        def work(session: Session) -> None:
            conn = session.connection()
            for o in outcomes:
                params = {
                    "b_message_id": o.message_id,
                    "status": o.status,
                    "last_error": o.error,
                    "claimed_until": None,  # the claim ends with the attempt's outcome
                }
                if o.status == SENT:
                    result = conn.execute(_UNLESS_SENT, {**params, "sent_at": now})
                elif o.status == FAILED:
                    result = conn.execute(_UNLESS_SENT, params)
                else:
                    result = conn.execute(_KEEP_PENDING, params)
                if getattr(result, "rowcount", 0) != 1:
                    self._require(session, o.message_id)  # unknown: raises

        if outcomes:
            await run_write(self._sessionmaker, work)

    async def get(self, message_id: str) -> OutboxRow | None:
        async with self._sessionmaker() as session:
            row = await session.get(OutboxMessage, message_id)
        return _row(row) if row else None

    async def list_for(self, workflow_id: str) -> list[OutboxRow]:
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.workflow_id == workflow_id)
            .order_by(OutboxMessage.created_at, OutboxMessage.seq, OutboxMessage.message_id)
        )
        async with self._sessionmaker() as session:
            return [_row(m) for m in await session.scalars(stmt)]

    @staticmethod
    def _require(session: Session, message_id: str) -> OutboxMessage:
        row = session.get(OutboxMessage, message_id, with_for_update=True)
        if row is None:
            raise UnknownMessage(message_id)
        return row
