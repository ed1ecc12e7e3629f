"""Fault tests that fit the time-skipping server: duplicates, repeated updates, mail outages."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from domain.models import ActionResult, PartnerAction
from tests.factories import partner, referral
from tests.harness import Harness


async def test_concurrent_duplicate_create_gives_one_workflow(h: Harness) -> None:
    await h.partners(partner("1001"))
    results = await asyncio.gather(
        *(h.start(referral("FT-F-DUP")) for _ in range(5)), return_exceptions=True
    )
    started = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, WorkflowAlreadyStartedError)]
    assert len(started) == 1 and len(refused) == 4
    await h.assigned(started[0])


async def test_same_update_id_twice_is_applied_once(h: Harness) -> None:
    await h.partners(partner("1001"))
    handle = await h.start(referral("FT-F-UPD"))
    who = await h.assigned(handle)
    action = PartnerAction(partner=who)
    first = await handle.execute_update(
        "accept", action, id="portal-key-1", result_type=ActionResult
    )
    again = await handle.execute_update(
        "accept", action, id="portal-key-1", result_type=ActionResult
    )
    assert first == again
    state = await h.state(handle)
    assert [e.action for e in state.history].count("accepted") == 1


async def test_actions_on_a_completed_referral_get_a_clear_error(h: Harness) -> None:
    await h.partners(partner("1001"))
    handle = await h.start(referral("FT-F-DONE"))
    who = await h.assigned(handle)
    await h.act(handle, "accept", who)
    await h.act(handle, "complete", who, vas_sold=False)
    await handle.result()
    # Temporal refuses updates on a closed workflow (the CLI and portal turn that into
    # "referral ... is already completed": see their tests); nothing changes.
    with pytest.raises((WorkflowUpdateFailedError, RPCError)):
        await h.act(handle, "decline", who, reason="customer_unresponsive")
    state = await h.state(handle)
    assert state.status == "completed"
    assert [a.outcome for a in state.assignments] == ["completed"]


async def test_smtp_down_holds_the_sla_clock_until_the_notification_is_delivered(
    h: Harness,
) -> None:
    """Mail server down: the referral shows "notifying" and its answer clock has not started;
    once the server is back the notification goes out once and the clock starts."""
    await h.partners(partner("1001"))
    port = h.sink.port
    await h.sink.stop()
    try:
        handle = await h.start(referral("FT-F-SMTPDOWN"))
        state = await h.until(handle, lambda s: s.waiting_for.startswith("notifying"))
        assert state.status == "pending" and state.assignments[0].due_at is None
        assert not h.mails(to="referrals-1001")
    finally:
        await h.sink.start("127.0.0.1", port)
    # activity retries back off in real time (5 s, 10 s, ...) on the test server
    await h.wait_mail(lambda m: "referrals-1001" in str(m["To"]), timeout=40)
    state = await h.until(handle, lambda s: s.assignments[0].due_at is not None, timeout=40)
    a = state.assignments[0]
    assert a.notified_at is not None and a.due_at is not None and a.due_at > a.notified_at
    counts = Counter(str(m["Message-ID"]) for m in h.sink.messages)
    assert all(n == 1 for n in counts.values()), counts


async def test_hanging_smtp_server_times_out_and_retries(h: Harness) -> None:
    """A server that accepts the connection and never answers must not hold the referral."""
    await h.partners(partner("1001"))
    real_port = h.sink.port
    await h.sink.stop()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.read()  # never greets

    server = await asyncio.start_server(silent, "127.0.0.1", real_port)
    try:
        handle = await h.start(referral("FT-F-SMTPHANG"))
        await h.until(handle, lambda s: bool(s.assignments))
        await asyncio.sleep(h.settings.smtp_timeout + 1)  # a send attempt timed out
        state = await h.state(handle)
        assert state.status == "pending" and state.waiting_for.startswith("notifying")
    finally:
        server.close()
        await server.wait_closed()
        await h.sink.start("127.0.0.1", real_port)
    await h.wait_mail(lambda m: "referrals-1001" in str(m["To"]), timeout=40)
