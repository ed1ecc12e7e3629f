"""A split referral whose part an operator terminates in the Web UI, on the REAL dev server
(the time-skipping test server does not tell a parent that its child was terminated)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.client import WorkflowHandle

from db.directory import PartnerDirectory
from domain import names
from domain.models import ActionResult, OperatorAction, ReferralState
from tests.factories import partner, referral
from tests.test_search_attributes import DevWorker, dev_env, w

__all__ = ["dev_env", "w"]

pytestmark = pytest.mark.integration


async def until(
    handle: WorkflowHandle[Any, Any], check: Callable[[ReferralState], bool]
) -> ReferralState:
    deadline = time.monotonic() + 60
    while True:
        state = await handle.query(names.QUERY_DETAILS, result_type=ReferralState)
        if check(state):
            return state
        assert time.monotonic() < deadline, f"timed out; last state: {state.status}"
        await asyncio.sleep(0.1)


async def test_a_terminated_part_no_longer_holds_its_parent_and_the_parent_can_be_cancelled(
    w: DevWorker,
) -> None:
    """The parent counts the terminated part as cancelled (it showed it pending for ever), and
    cancelling the parent ends it cleanly (the cancel signal to the closed part failed the
    parent's workflow)."""
    await PartnerDirectory(w.sessions).upsert(
        [partner("2001", workloads=["teams"]), partner("2003", workloads=["sharepoint"])],
        datetime.now(UTC),
    )
    handle = await w.start(referral("FT-DEV-TERMPART"))
    state = await until(handle, lambda s: len(s.parts) == 2)
    first, second = (w.client.get_workflow_handle(p.workflow_id) for p in state.parts)
    for part in (first, second):
        await until(part, lambda s: s.current is not None and s.current.due_at is not None)
    await first.terminate("stopped in the Web UI")
    state = await until(handle, lambda s: s.parts[0].status == "cancelled")
    assert state.status == "split" and state.parts[1].status == "pending"
    assert any(e.action == "part_failed" and first.id in e.detail for e in state.history)

    cancel = OperatorAction("cancel", "the customer withdrew", "operator:test")
    await handle.execute_update("cancel", cancel, result_type=ActionResult)
    assert (await handle.result()).status == "cancelled"
    assert (await until(second, lambda s: s.status == "cancelled")).status == "cancelled"
