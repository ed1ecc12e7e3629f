"""Email outbox: the exactly-once ledger keyed by Message-ID."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from db.outbox import (
    CLAIM,
    FAILED,
    PENDING,
    SENT,
    EmailOutbox,
    OutboxEntry,
    Outcome,
    UnknownMessage,
)
from tests.dbfixtures import T0, Database

MID = "<FT-1.1.assigned@fasttrack.localhost>"


async def _begin(
    outbox: EmailOutbox, message_id: str = MID, seq: int = 1, at: datetime = T0
) -> str:
    entry = OutboxEntry(
        message_id, "FT-1", "assigned", seq, ["a@x.example", "ae@ms.example"], "FT-1"
    )
    return await outbox.begin(entry, at)


async def test_pending_until_sent_then_never_again(database: Database) -> None:
    outbox = EmailOutbox(database.sessionmaker)
    assert await _begin(outbox) == "pending"
    assert await _begin(outbox) == "busy"  # a second attempt while the first one sends
    later = T0 + CLAIM + timedelta(seconds=1)
    assert await _begin(outbox, at=later) == "pending"  # the first attempt died: claim expired
    await outbox.record([Outcome(MID, SENT)], T0 + timedelta(seconds=5))
    assert await _begin(outbox) == "sent"
    await outbox.record(
        [Outcome(MID, FAILED, "late failure")], T0
    )  # never downgrades a delivered message

    row = await outbox.get(MID)
    assert row is not None
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")
    assert row.sent_at == T0 + timedelta(seconds=5)
    assert row.recipients == ["a@x.example", "ae@ms.example"]
    assert (row.workflow_id, row.kind, row.seq, row.subject) == ("FT-1", "assigned", 1, "FT-1")


async def test_temporary_and_permanent_failures(database: Database) -> None:
    outbox = EmailOutbox(database.sessionmaker)
    assert await _begin(outbox) == "pending"
    await outbox.record([Outcome(MID, PENDING, "connection refused")], None)
    row = await outbox.get(MID)
    assert row is not None and (row.status, row.last_error) == ("pending", "connection refused")
    assert await _begin(outbox) == "pending"  # the outcome ended the claim: retry at once

    await outbox.record([Outcome(MID, FAILED, "550 mailbox unavailable")], T0)
    assert await _begin(outbox) == "failed"
    row = await outbox.get(MID)
    assert row is not None and (row.status, row.attempts) == ("failed", 2)
    assert row.last_error == "550 mailbox unavailable"


async def test_list_for_workflow_and_unknown_message(database: Database) -> None:
    outbox = EmailOutbox(database.sessionmaker)
    await _begin(outbox, "<b>", seq=2)
    await _begin(outbox, "<a>", seq=1)
    await outbox.begin(OutboxEntry("<other>", "FT-2", "assigned", 1, [], "FT-2"), T0)
    assert [r.message_id for r in await outbox.list_for("FT-1")] == ["<a>", "<b>"]
    assert await outbox.get("<nope>") is None
    with pytest.raises(UnknownMessage, match="nope"):
        await outbox.record([Outcome("<nope>", SENT)], T0)
