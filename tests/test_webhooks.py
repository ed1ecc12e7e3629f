"""Webhooks: the pure rules (events, signature, URL and address checks), then end to end on
a real worker: signed events reach a local receiver, a decliner's event has no customer, a
dead endpoint never holds the referral and is disabled with an email after the window."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from db.audit import Actor
from db.external_refs import ExternalRefs
from db.webhooks import DISABLED, QUEUED, WebhookStore
from domain.models import Assignment, HistoryEntry, Outcome, ReferralState, Status, WebhookJob
from domain.webhooks import (
    EVENT_OF_ACTION,
    EVENT_TYPES,
    WebhookRuleError,
    address_refusal,
    check_url,
    event_id,
    events_since,
    parse_events,
    sign,
    verify,
)
from mail import i18n, webhook_http
from mail.webhook_http import MAX_RESPONSE_BYTES, TIMEOUT_S, post_event
from runtime.sealing import Sealer
from runtime.webhook_receiver import WebhookReceiver
from runtime.webhooks import send_again, subscribe
from tests.factories import partner, referral
from tests.harness import Harness
from tests.test_portal import eventually, unique

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------------ rules


def _state(referral_id: str, status: Status) -> ReferralState:
    return ReferralState(
        workflow_id=referral_id,
        referral_id=referral_id,
        parent_id=None,
        type="benefit",
        status=status,
        workloads=["teams"],
        customer_country="DE",
        seats=10,
        created_at=T0,
    )


def test_history_entries_become_events_for_the_partner_they_concern() -> None:
    state = _state("FT-1", Status.PENDING)
    a1 = Assignment(1, "111", "P1", Outcome.DECLINED, T0, decided_at=T0 + timedelta(hours=1))
    a2 = Assignment(2, "222", "P2", Outcome.ACCEPTED, T0 + timedelta(hours=2))
    state.assignments = [a1, a2]
    state.history = [
        HistoryEntry(T0, "system", "created"),
        HistoryEntry(T0, "system", "assigned", "assigned to 111"),
        HistoryEntry(T0 + timedelta(minutes=30), "sla-timer", "reminded", "reminder sent to 111"),
        HistoryEntry(T0 + timedelta(hours=1), "partner:111", "declined", "customer_unresponsive"),
        HistoryEntry(T0 + timedelta(hours=1), "partner:111", "accept", "refused", refused=True),
        HistoryEntry(T0 + timedelta(hours=2), "system", "assigned", "assigned to 222"),
        HistoryEntry(T0 + timedelta(hours=3), "partner:222", "accepted"),
        HistoryEntry(T0 + timedelta(hours=4), "operator:ann", "cancelled", "duplicate"),
    ]
    found = [(e.seq, e.type, e.partner) for e in events_since(state, 0)]
    assert found == [
        (1, "referral.assigned", "111"),
        (2, "referral.reminder", "111"),
        (3, "referral.declined", "111"),
        (5, "referral.assigned", "222"),
        (6, "referral.accepted", "222"),
        (7, "referral.withdrawn", "222"),
    ]
    assert [e.seq for e in events_since(state, 5)] == [5, 6, 7]
    assert event_id("FT-1", 5, 9) == event_id("FT-1", 5, 9) != event_id("FT-1", 5, 10)


def test_every_event_type_comes_from_an_action_the_lifecycle_records() -> None:
    assert set(EVENT_TYPES) == {
        f"referral.{name}"
        for name in (
            "assigned", "reminder", "expired", "declined", "accepted", "contacted",
            "account_team_contacted", "kickoff", "cpor_claimed", "completed", "withdrawn",
        )
    }  # fmt: skip
    state = _state("FT-2", Status.COMPLETED)
    hour = timedelta(hours=1)
    state.assignments = [
        Assignment(1, "111", "P1", Outcome.EXPIRED, T0, decided_at=T0 + hour),
        Assignment(2, "222", "P2", Outcome.ACCEPTED, T0 + 2 * hour),
    ]
    actions = [
        (T0, "system", "assigned"),
        (T0 + hour, "sla-timer", "expired"),
        (T0 + 2 * hour, "system", "assigned"),
        (T0 + 3 * hour, "partner:222", "accepted"),
        (T0 + 4 * hour, "partner:222", "contacted"),
        (T0 + 5 * hour, "partner:222", "account_team_contacted"),
        (T0 + 6 * hour, "partner:222", "kickoff"),
        (T0 + 7 * hour, "partner:222", "cpor_claimed"),
        (T0 + 8 * hour, "partner:222", "completed"),
        (T0 + 9 * hour, "system", "released"),
    ]
    state.history = [HistoryEntry(at, actor, action) for at, actor, action in actions]
    found = [(e.type, e.partner) for e in events_since(state, 0)]
    assert found == [
        ("referral.assigned", "111"),
        ("referral.expired", "111"),  # the partner that let it expire hears of it
        ("referral.assigned", "222"),
        ("referral.accepted", "222"),
        ("referral.contacted", "222"),
        ("referral.account_team_contacted", "222"),
        ("referral.kickoff", "222"),
        ("referral.cpor_claimed", "222"),
        ("referral.completed", "222"),
        ("referral.withdrawn", "222"),
    ]
    # Every action mapped to an event is one the lifecycle's transitions record.
    source = "".join(
        Path(ROOT, f).read_text() for f in ("domain/transitions.py", "workflows/referral.py")
    )
    for action in EVENT_OF_ACTION:
        assert f'"{action}"' in source, action


def test_signatures_verify_only_with_the_secret_the_body_and_a_fresh_time() -> None:
    body = b'{"id":"evt_1"}'
    now = int(time.time())
    header = sign("whsec_x", now, body)
    assert header.startswith(f"t={now},v1=") and len(header.split("v1=")[1]) == 64
    assert verify("whsec_x", header, body, now + 10)
    assert not verify("whsec_y", header, body, now)
    assert not verify("whsec_x", header, body + b" ", now)
    assert not verify("whsec_x", header, body, now + 301)
    assert not verify("whsec_x", "garbage", body, now)
    assert not verify("whsec_x", f"t={now},v1=\u00e9", body, now)  # not ASCII: refused


@pytest.mark.parametrize(
    ("url", "insecure", "message"),
    [
        ("http://example.com/hook", False, "https://"),
        ("ftp://example.com/", True, "https://"),
        ("https:///nohost", False, "host name"),
        ("https://user:pw@example.com/", False, "credentials"),
        ("https://example.com:99999/", False, "URL"),
        ("", False, "characters"),
    ],
)
def test_subscription_urls_must_be_https_with_a_host(
    url: str, insecure: bool, message: str
) -> None:
    with pytest.raises(WebhookRuleError, match=message):
        check_url(url, insecure)


def test_http_is_allowed_only_with_the_insecure_setting() -> None:
    assert check_url(" http://127.0.0.1:9/x ", True) == "http://127.0.0.1:9/x"
    assert check_url("https://crm.example.com/hooks?x=1", False)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "192.168.0.9", "172.16.0.1", "169.254.169.254", "::1",
     "fe80::1", "fd00:ec2::254", "0.0.0.0", "::ffff:127.0.0.1", "100.100.100.200"],
)  # fmt: skip
def test_internal_addresses_are_refused(address: str) -> None:
    assert address_refusal("hooks.example", address, False)
    assert address_refusal("hooks.example", address, True) is None


def test_public_addresses_are_allowed() -> None:
    assert address_refusal("hooks.example", "93.184.215.14", False) is None
    assert address_refusal("hooks.example", "2606:4700::1111", False) is None


def test_event_filters_accept_short_and_full_names() -> None:
    assert parse_events("accepted, referral.declined,accepted") == [
        "referral.accepted",
        "referral.declined",
    ]
    assert parse_events("") == []
    with pytest.raises(WebhookRuleError, match="unknown event 'nope'"):
        parse_events("nope")


# -------------------------------------------------------------------------- end to end


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver().start()
    yield r
    r.stop()


def store_of(h: Harness) -> WebhookStore:
    return WebhookStore(h.sessions, Sealer.for_settings(h.settings))


async def test_signed_events_reach_the_partner_and_verify(
    h: Harness, receiver: WebhookReceiver
) -> None:
    await h.partners(partner("5001"))
    store = store_of(h)
    sub, secret = await subscribe(
        store, h.settings, "5001", receiver.url, "", Actor("operator:test"), datetime.now(UTC)
    )
    receiver.secret = secret
    handle = await h.start(referral(unique("FT-HOOK")))
    assert await h.assigned(handle) == "5001"
    await ExternalRefs(h.sessions).set(handle.id, "5001", "CRM-5001", datetime.now(UTC))
    await h.act(handle, "accept", "5001")

    async def both() -> bool:
        return {"referral.assigned", "referral.accepted"} <= {
            e["type"] for e in receiver.events() if e["referral"]["id"] == handle.id
        }

    await eventually(both, timeout=30)
    got = [r for r in receiver.received if r.json()["referral"]["id"] == handle.id]
    assert all(r.verified for r in got)
    assert all(r.event_id == r.json()["id"] for r in got)
    accepted = next(r.json() for r in got if r.json()["type"] == "referral.accepted")
    assert set(accepted) == {"id", "type", "occurred_at", "referral"}
    assert accepted["referral"]["customer"]["name"] == "Fabrikam Ltd"
    assert accepted["referral"]["status"] == "active"
    assert accepted["referral"]["external_ref"] == "CRM-5001"  # the partner's own record id
    assert datetime.fromisoformat(accepted["occurred_at"]).tzinfo is not None

    async def recorded() -> bool:  # the receiver answers before the attempt is recorded
        rows = [r for r in await store.recent("5001") if r.workflow_id == handle.id]
        return len(rows) >= 2 and all(r.status == "delivered" for r in rows)

    await eventually(recorded)
    mine = [r for r in await store.recent("5001") if r.workflow_id == handle.id]
    assert all(r.last_code == 200 for r in mine)
    assert all(r.attempts == 1 and r.last_latency_ms is not None for r in mine)
    assert sub.id in {r.subscription_id for r in mine}


async def test_a_decliner_receives_its_declined_event_without_the_customer(
    h: Harness, receiver: WebhookReceiver
) -> None:
    await h.partners(partner("5101"), partner("5102"))
    store = store_of(h)
    for mpn in ("5101", "5102"):
        await subscribe(
            store, h.settings, mpn, receiver.url, "declined", Actor("operator:t"),
            datetime.now(UTC),
        )  # fmt: skip
    handle = await h.start(referral(unique("FT-DECL")))
    first = await h.assigned(handle)
    await h.act(handle, "decline", first, action="decline", reason="customer_unresponsive")
    await h.assigned(handle, seq=2)

    async def declined() -> bool:
        return any(e["referral"]["id"] == handle.id for e in receiver.events())

    await eventually(declined, timeout=30)
    events = [e for e in receiver.events() if e["referral"]["id"] == handle.id]
    assert [e["type"] for e in events] == ["referral.declined"]  # only what was asked for
    shown = events[0]["referral"]
    assert shown["access"] == "outcome" and shown["customer"] is None
    assert [a["partner"] for a in shown["assignments"]] == [first]


async def test_send_again_withholds_an_event_naming_the_customer_once_the_partner_let_go(
    h: Harness, receiver: WebhookReceiver
) -> None:
    """`domain.visibility` at delivery time: "send again" of the assignment event, after the
    partner declined, sends nothing and records the attempt as withheld."""
    await h.partners(partner("5201"))
    store = store_of(h)
    await subscribe(
        store, h.settings, "5201", receiver.url, "assigned", Actor("operator:t"),
        datetime.now(UTC),
    )  # fmt: skip
    handle = await h.start(referral(unique("FT-AGAIN")))
    assert await h.assigned(handle) == "5201"

    async def delivered() -> bool:
        rows = [r for r in await store.recent("5201") if r.workflow_id == handle.id]
        return len(rows) == 1 and rows[0].status == "delivered"

    await eventually(delivered, timeout=30)
    (row,) = [r for r in await store.recent("5201") if r.workflow_id == handle.id]
    await h.act(handle, "decline", "5201", action="decline", reason="customer_unresponsive")
    await h.until(handle, lambda s: s.status == "escalated")

    async def let_go_recorded() -> bool:
        delivery = await store.delivery(row.id)
        return delivery is not None and delivery.withheld

    await eventually(let_go_recorded)
    before = len(receiver.received)
    assert await send_again(h.client, store, h.settings, row.id, "5201")

    async def withheld() -> bool:
        again = [r for r in await store.recent("5201") if r.id == row.id]
        return again[0].status == "withheld"

    await eventually(withheld, timeout=30)
    assert len(receiver.received) == before  # nothing sent


async def deliver(h: Harness, job: WebhookJob) -> str:
    """The delivery workflow for one event, to its end."""
    return await h.client.execute_workflow(
        "WebhookDelivery",
        job,
        id=f"webhook-test-{uuid.uuid4().hex[:8]}",
        task_queue=h.settings.task_queue,
        result_type=str,
    )


async def test_a_dead_endpoint_never_holds_the_referral_and_is_disabled_after_the_window(
    h: Harness, receiver: WebhookReceiver
) -> None:
    receiver.status = 500
    await h.partners(partner("5201"))
    store = store_of(h)
    sub, _ = await subscribe(
        store, h.settings, "5201", receiver.url, "", Actor("operator:t"), datetime.now(UTC)
    )
    handle = await h.start(referral(unique("FT-DEAD")))
    await h.assigned(handle)
    result = await h.act(handle, "accept", "5201")
    assert result.status == "active"  # answered while every delivery keeps failing

    async def attempted() -> bool:
        return any(r.last_code == 500 for r in await store.recent("5201"))

    await eventually(attempted, timeout=30)
    failing = next(r for r in await store.recent("5201") if r.last_code == 500)
    assert failing.status == "pending" and failing.last_outcome == "http_error"

    # The window passes for one event: the subscription is disabled, contact and ops told.
    before = len(h.sink.messages)
    done = await deliver(h, WebhookJob(failing.id, give_up_s=1.0))
    assert done.startswith("disabled; email")
    assert not (await store.get(sub.id)).active  # type: ignore[union-attr]
    msg = await h.wait_mail(lambda m: m in h.sink.messages[before:])
    assert "referrals-5201@partner.example" in str(msg["To"]) and h.settings.ops_email in str(
        msg["To"]
    )
    assert "webhook disabled" in str(msg["Subject"]).lower()

    # While it is disabled, an attempt is recorded as not sent and the event stays pending;
    # "send again" says why it cannot, and queues nothing.
    other = next(r for r in await store.recent("5201") if r.id != failing.id)
    skipped = await deliver(h, WebhookJob(other.id, give_up_s=60.0))
    assert skipped == DISABLED
    (row,) = [r for r in await store.recent("5201") if r.id == other.id]
    assert (row.status, row.last_outcome) == ("pending", DISABLED)
    assert await send_again(h.client, store, h.settings, other.id, "5201") == DISABLED

    # Rotating the secret enables it again.
    assert await store.rotate(sub.id, Actor("operator:t"), datetime.now(UTC))
    assert (await store.get(sub.id)).active  # type: ignore[union-attr]
    assert await send_again(h.client, store, h.settings, other.id, "5201") == QUEUED


async def test_delivery_refuses_internal_addresses_and_does_not_follow_redirects(
    receiver: WebhookReceiver,
) -> None:
    refused = await post_event(receiver.url.replace("http:", "https:"), b"{}", {}, False)
    assert refused.outcome == "refused" and "loopback" in refused.error
    receiver.status, receiver.headers = 302, {"Location": "http://169.254.169.254/latest"}
    moved = await post_event(receiver.url, b"{}", {}, True)
    assert (moved.outcome, moved.code) == ("http_error", 302)
    assert len(receiver.received) == 1


async def test_delivery_reads_only_the_first_bytes_of_an_endless_answer() -> None:
    total = 64 * MAX_RESPONSE_BYTES * 1024  # 1 GiB announced: never read to the end
    written = 0
    closed = asyncio.Event()

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal written
        await reader.readuntil(b"\r\n\r\n")
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n".encode())
        chunk = b"x" * 65536
        try:
            while written < total:
                writer.write(chunk)
                await writer.drain()
                written += len(chunk)
        except ConnectionError:
            pass
        finally:
            writer.close()
            closed.set()

    server = await asyncio.start_server(endless, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        outcome = await asyncio.wait_for(
            post_event(f"http://127.0.0.1:{port}/hook", b"{}", {}, True), timeout=TIMEOUT_S
        )
        await asyncio.wait_for(closed.wait(), timeout=TIMEOUT_S)
    finally:
        server.close()
    assert (outcome.outcome, outcome.code) == ("delivered", 200)
    assert written < total // 4  # the client hung up after its cap


async def test_delivery_gives_up_on_an_endpoint_that_does_not_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert TIMEOUT_S == 10.0
    monkeypatch.setattr(webhook_http, "TIMEOUT_S", 0.3)
    release = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()  # reads nothing, answers nothing
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        outcome = await asyncio.wait_for(
            post_event(f"http://127.0.0.1:{port}/hook", b"{}", {}, True), timeout=TIMEOUT_S
        )
    finally:
        release.set()
        server.close()
    assert outcome.outcome == "error" and outcome.code is None
    assert "timed out" in outcome.error


async def test_subscribing_checks_the_url_and_where_it_resolves(h: Harness) -> None:
    await h.partners(partner("5301"))
    strict = replace(h.settings, webhook_allow_insecure=False)
    store = store_of(h)
    now, who = datetime.now(UTC), Actor("operator:t")
    for url, message in [
        ("http://crm.example.com/hook", "https://"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://localhost/hook", "loopback"),
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://10.0.0.8/hook", "private"),
    ]:
        with pytest.raises(WebhookRuleError, match=message):
            await subscribe(store, strict, "5301", url, "", who, now)
    assert await store.list("5301") == []


async def test_a_refused_address_is_explained_in_the_partners_language(h: Harness) -> None:
    await h.partners(partner("5302"))
    strict = replace(h.settings, webhook_allow_insecure=False)
    now, who = datetime.now(UTC), Actor("partner:5302")
    with pytest.raises(WebhookRuleError) as refused:
        await subscribe(store_of(h), strict, "5302", "https://10.0.0.8/hook", "", who, now)
    assert str(refused.value) == "10.0.0.8 resolves to 10.0.0.8, a private address"
    assert refused.value.text is not None
    with i18n.using("de"):
        german = i18n.translate(refused.value.text)
    assert "10.0.0.8" in german and german != str(refused.value)


async def test_the_demo_subscribes_its_partner_to_a_fresh_local_receiver(h: Harness) -> None:
    from demo import DEMO_PARTNER, subscribe_demo_receiver

    await h.partners(partner(DEMO_PARTNER))
    demo = Actor("system:demo", "demo sample data")
    receivers = [await subscribe_demo_receiver(h.settings, h.sessions, demo) for _ in range(2)]
    try:
        subs = await store_of(h).list(DEMO_PARTNER)
        assert [s.url for s in subs] == [receivers[1].url]
        assert receivers[1].secret and receivers[1].secret.startswith("whsec_")
    finally:
        for r in receivers:
            r.stop()
