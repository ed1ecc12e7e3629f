"""`publish_changes`: the state is recorded whatever happens to the change's emails."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from temporalio.testing import ActivityEnvironment

from activities.email import EmailActivities
from activities.publish import PublishActivities
from db.audit import Actor
from db.directory import PartnerDirectory
from db.outbox import EmailOutbox
from db.readmodel import ReferralReadModel
from db.webhooks import PartnerView, WebhookStore
from domain.models import EmailRequest, Publication
from portal.webhook_view import partner_view
from runtime.sealing import Sealer
from runtime.smtp_sink import MailSink
from settings import Settings
from tests.dbfixtures import T0, Database, assignment, event, partner_profile, referral, snapshot


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once the socket is closed


def publisher(database: Database, view: PartnerView | None = None) -> PublishActivities:
    settings = Settings(smtp_host="127.0.0.1", smtp_port=closed_port(), smtp_timeout=2.0)
    email = EmailActivities(settings, EmailOutbox(database.sessionmaker))
    model = ReferralReadModel(database.sessionmaker)
    return PublishActivities(database.sessionmaker, model, email, view)


async def test_state_is_recorded_when_one_email_cannot_be_composed_and_smtp_is_down(
    database: Database,
) -> None:
    ref = referral("FT-PUB-1")
    escalation = EmailRequest("escalation", ref, "FT-PUB-1", 1, ["teams"], detail={"why": "x"})
    broken = EmailRequest("notification", ref, "FT-PUB-1", 1, ["teams"])  # needs a partner
    result = await publisher(database).publish_changes(
        Publication(snapshot("FT-PUB-1"), [escalation, broken])
    )

    assert [r.status for r in result.emails] == ["retry", "failed"]
    assert "127.0.0.1" in result.emails[0].error  # the SMTP server it could not reach
    assert result.emails[1].error.startswith("cannot compose: ")
    row = await ReferralReadModel(database.sessionmaker).get("FT-PUB-1")
    assert row is not None and row.status == "pending"
    outbox = await EmailOutbox(database.sessionmaker).list_for("FT-PUB-1")
    assert [(m.kind, m.status) for m in outbox] == [("escalation", "pending")]
    assert outbox[0].last_error  # the temporary failure is remembered for operators


async def test_emails_without_a_snapshot_and_a_retry_sends_nothing_twice(
    database: Database,
) -> None:
    ref = referral("FT-PUB-2")
    request = EmailRequest("escalation", ref, "FT-PUB-2", 1, ["teams"], detail={"why": "x"})
    publish = publisher(database)
    first = await publish.publish_changes(Publication(None, [request]))
    again = await publish.publish_changes(Publication(None, [request]))
    assert [r.status for r in first.emails + again.emails] == ["retry", "retry"]
    outbox = await EmailOutbox(database.sessionmaker).list_for("FT-PUB-2")
    assert [(m.status, m.attempts) for m in outbox] == [("pending", 2)]
    assert await ReferralReadModel(database.sessionmaker).get("FT-PUB-2") is None


async def test_two_attempts_at_once_send_each_email_once(
    database: Database, tmp_path: Path
) -> None:
    """A local activity re-run while its first run still sends (its workflow left the cache),
    or an activity retried after a timeout: the outbox claim lets one attempt send."""
    ref = referral("FT-PUB-3")
    request = EmailRequest("escalation", ref, "FT-PUB-3", 1, ["teams"], detail={"why": "x"})
    async with MailSink(port=0, directory=tmp_path, echo=False) as sink:
        settings = Settings(smtp_host="127.0.0.1", smtp_port=sink.port, smtp_timeout=5.0)
        email = EmailActivities(settings, EmailOutbox(database.sessionmaker))
        model = ReferralReadModel(database.sessionmaker)
        publish = PublishActivities(database.sessionmaker, model, email)
        publication = Publication(snapshot("FT-PUB-3"), [request])
        env = ActivityEnvironment()  # for the activity's metrics
        runs = [env.run(publish.publish_changes, publication) for _ in range(3)]
        results = await asyncio.gather(*runs)
        statuses = sorted(r.emails[0].status for r in results)
        assert statuses.count("sent") == 1, statuses
        assert set(statuses) <= {"sent", "retry", "duplicate"}
        await asyncio.sleep(0.2)
        assert len(sink.messages) == 1
    outbox = await EmailOutbox(database.sessionmaker).list_for("FT-PUB-3")
    assert [m.status for m in outbox] == ["sent"]


async def test_a_re_run_publish_returns_the_events_its_lost_attempt_queued(
    database: Database,
) -> None:
    """A publish attempt that committed but whose result never reached the workflow (it timed
    out, the worker stopped) is run again: it returns the events the first one queued, which
    are still pending with no delivery started, until the workflow has been given them."""
    await PartnerDirectory(database.sessionmaker).upsert([partner_profile("100")], T0)
    store = WebhookStore(database.sessionmaker, Sealer.for_settings(Settings()))
    await store.add("100", "https://example.com/hook", [], Actor("operator:t"), T0)
    pub = publisher(database, partner_view)
    snap = snapshot(
        "FT-PUB-LOST", assignments=[assignment(1, "100")], history=[event(0, "assigned")]
    )
    first = await pub.publish_changes(Publication(snap))
    assert len(first.webhooks) == 1
    again = await pub.publish_changes(Publication(snap))  # the workflow never saw `first`
    assert again.webhooks == first.webhooks
    given = len(snap.state.history)  # the workflow has started their delivery
    assert (await pub.publish_changes(Publication(snap, [], given))).webhooks == []
