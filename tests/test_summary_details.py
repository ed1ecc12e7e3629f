"""What operations read in the Temporal UI, read through the client: each referral workflow's
static summary (as `describe()` reads it) and its current details (the SDK's workflow-metadata
query), for pending, active, escalated and split referrals."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import WorkflowHandle

from db.readmodel import ReferralReadModel
from domain.models import ActionResult, PartnerAction, Referral
from domain.summary import static_summary
from runtime.intake import start_referral
from tests.factories import partner, referral
from tests.harness import Harness

# The built-in query every SDK worker answers with the workflow's metadata (what the UI shows).
METADATA_QUERY = "__temporal_workflow_metadata"
DUE = r"due \w{3} \d{1,2} \w{3} \d{4} \d{2}:\d{2} \w+"  # "due Fri 27 Nov 2026 15:30 CET"


async def current_details(handle: WorkflowHandle[Any, Any]) -> str:
    metadata = await handle.query(METADATA_QUERY, result_type=WorkflowMetadata)
    return metadata.current_details


async def details_until(handle: WorkflowHandle[Any, Any], pattern: str) -> str:
    """The current details once they match `pattern` (the worker sets them as it goes)."""
    deadline = time.monotonic() + 15
    while True:
        text = await current_details(handle)
        if re.fullmatch(pattern, text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"current details {text!r} never matched {pattern!r}")
        await asyncio.sleep(0.05)


async def summary_of(h: Harness, handle: WorkflowHandle[Any, Any]) -> str:
    """The static summary `describe()` gives, decoded from the raw description: the
    time-skipping test server keeps an unset Datetime attribute (SlaDueAt once a partner has
    accepted) as a null payload, which `describe()`'s search-attribute decoding refuses."""
    raw = await h.client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=h.client.namespace, execution=WorkflowExecution(workflow_id=handle.id)
        )
    )
    [summary] = await h.client.data_converter.decode(
        [raw.execution_config.user_metadata.summary], [str]
    )
    return str(summary)


async def start(h: Harness, name: str) -> tuple[Referral, WorkflowHandle[Any, Any]]:
    """Start the way the CLI and the demo do (runtime.intake), so the summary is the product's."""
    r = referral(f"{name}-{uuid.uuid4().hex[:6]}")
    assert await start_referral(h.client, h.settings.task_queue, r, ReferralReadModel(h.sessions))
    h.started.append(r.referral_id)
    return r, h.client.get_workflow_handle(r.referral_id)


async def test_pending_referral_shows_its_summary_and_who_must_answer_by_when(
    h: Harness,
) -> None:
    await h.partners(partner("1001"))
    r, handle = await start(h, "FT-SD-PENDING")
    await h.assigned(handle)
    assert await summary_of(h, handle) == "benefit · teams, sharepoint · DE · 2400 seats"
    described = await handle.describe()  # no unset attribute yet: describe() decodes it all
    assert await described.static_summary() == static_summary(r)
    await details_until(handle, rf"waiting for 1001 to accept or decline, {DUE}")


async def test_active_referral_details_say_the_customer_contact_is_awaited(h: Harness) -> None:
    await h.partners(partner("1001"))
    r, handle = await start(h, "FT-SD-ACTIVE")
    who = await h.assigned(handle)
    await handle.execute_update("accept", PartnerAction(who), result_type=ActionResult)
    assert await summary_of(h, handle) == static_summary(r)
    await details_until(handle, rf"waiting for 1001 to contact the customer, {DUE}")


async def test_escalated_referral_details_ask_operations_to_act(h: Harness) -> None:
    await h.partners(partner("1001", home_country="US", countries=[], timezone="America/New_York"))
    r, handle = await start(h, "FT-SD-ESCALATED")
    await h.until(handle, lambda s: s.status == "escalated")
    assert await summary_of(h, handle) == static_summary(r)
    await details_until(handle, "escalated: waiting for operations to retry or cancel")


async def test_split_referral_and_each_part_show_their_own_summary_and_details(
    h: Harness,
) -> None:
    await h.partners(
        partner("2001", workloads=["teams"]), partner("2003", workloads=["sharepoint"])
    )
    r, handle = await start(h, "FT-SD-SPLIT")
    state = await h.until(handle, lambda s: s.status == "split" and len(s.parts) == 2)
    assert await summary_of(h, handle) == static_summary(r)
    parts = ", ".join(re.escape(p.workflow_id) + " pending" for p in state.parts)
    await details_until(
        handle, rf"split: waiting for every part to be completed or cancelled \({parts}\)"
    )

    for number, part in enumerate(state.parts, start=1):
        child = h.client.get_workflow_handle(part.workflow_id)
        holder = await h.assigned(child)
        assert holder == {"teams": "2001", "sharepoint": "2003"}[part.workloads[0]]
        assert (
            await summary_of(h, child) == f"part {number} of {r.referral_id}: {part.workloads[0]}"
        )
        await details_until(child, rf"waiting for {holder} to accept or decline, {DUE}")
