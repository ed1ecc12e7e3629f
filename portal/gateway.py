"""The portal's only way to the workflows: the `details` query (with the read model's snapshot
as fallback) and workflow updates, with Temporal's failures mapped to portal answers."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError
from temporalio.client import (
    RPCTimeoutOrCancelledError,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
)
from temporalio.converter import value_to_type
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from db.engine import DatabaseUnavailable
from db.readmodel import ReferralRow
from domain import names
from domain.models import ActionResult, ReferralState, Status
from domain.policy import Code
from portal.schemas import ActionOut, ApiError
from runtime.temporal import TemporalUnavailable

if TYPE_CHECKING:  # the web stack (FastAPI): the worker needs the views, not the app
    from portal.auth import Portal

log = logging.getLogger("fasttrack.portal")

QUERY_TIMEOUT = timedelta(seconds=10)
UPDATE_TIMEOUT = timedelta(seconds=30)
# The whole wait for an update's answer: Temporal keeps an update waiting until a worker takes
# it, polling again after each RPC, so without this a stopped worker is never answered.
ANSWER_TIMEOUT = UPDATE_TIMEOUT

# Failures of Temporal or the database: the request may be retried (answered with 503).
UNAVAILABLE: tuple[type[Exception], ...] = (
    RPCError,
    RPCTimeoutOrCancelledError,
    TemporalUnavailable,
    DatabaseUnavailable,
    DBAPIError,
    OSError,
    TimeoutError,
)

# What the Temporal client raises when the server does not answer (a lazy client that cannot
# connect raises RuntimeError).
TEMPORAL_DOWN: tuple[type[Exception], ...] = (RPCError, RPCTimeoutOrCancelledError, RuntimeError)
QUERY_ERRORS: tuple[type[Exception], ...] = (
    *TEMPORAL_DOWN,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
)


@dataclass
class Loaded:
    row: ReferralRow
    state: ReferralState
    source: str  # live | snapshot


async def load(portal: Portal, workflow_id: str) -> Loaded | None:
    """The referral's row and live state (the recorded snapshot if the workflow cannot answer);
    None when the read model does not know the id."""
    row = await portal.readmodel.get(workflow_id)
    if row is None:
        return None
    handle = portal.client.get_workflow_handle(workflow_id)
    try:
        state = await handle.query(
            names.QUERY_DETAILS, result_type=ReferralState, rpc_timeout=QUERY_TIMEOUT
        )
        return Loaded(row, state, "live")
    except QUERY_ERRORS as err:
        log.warning("details query of %s failed (%s); using the snapshot", workflow_id, err)
    return Loaded(row, value_to_type(ReferralState, row.state), "snapshot")


async def run_update(
    portal: Portal, loaded: Loaded, update: str, arg: Any, update_id: str | None
) -> tuple[int, dict[str, Any]]:
    """Execute a workflow update: (200, ActionOut) or (409, refusal). Temporal failures raise
    ApiError(503) so nothing is remembered for an Idempotency-Key."""
    workflow_id = loaded.state.workflow_id
    handle = portal.client.get_workflow_handle(workflow_id)
    call = handle.execute_update(
        update, arg, id=update_id, result_type=ActionResult, rpc_timeout=UPDATE_TIMEOUT
    )
    try:
        result = await asyncio.wait_for(call, ANSWER_TIMEOUT.total_seconds())
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError):
            return 409, {"error": cause.type or "refused", "message": cause.message}
        return 409, {"error": "refused", "message": str(cause or err)}
    except RPCError as err:
        if await _has_ended(handle, err):
            # The workflow has ended: nothing can be recorded on it any more.
            status = loaded.state.status
            done = f"already {status}" if status in Status.CLOSED else "no longer open"
            return 409, {"error": Code.CLOSED, "message": f"referral {workflow_id} is {done}"}
        raise unavailable(err) from err
    except TEMPORAL_DOWN as err:
        raise unavailable(err) from err
    except TimeoutError as err:  # sent, not answered: the same request (update id) again tells
        raise unavailable(err) from err
    out = ActionOut(id=result.referral_id, status=result.status, message=result.message)
    log.info("%s on %s: %s", update, workflow_id, result.message)
    return 200, out.model_dump()


async def _has_ended(handle: WorkflowHandle[Any, Any], err: RPCError) -> bool:
    """The update was refused because the workflow is no longer running (not found, or
    closed). The server also answers FAILED_PRECONDITION for an update aborted while the
    workflow is busy: then the workflow still runs, and the caller may try again."""
    if err.status == RPCStatusCode.NOT_FOUND:
        return True
    if err.status != RPCStatusCode.FAILED_PRECONDITION:
        return False
    try:
        described = await handle.describe(rpc_timeout=QUERY_TIMEOUT)
    except RPCError as again:
        return again.status == RPCStatusCode.NOT_FOUND
    except TEMPORAL_DOWN:
        return False
    return described.status != WorkflowExecutionStatus.RUNNING


def unavailable(err: BaseException) -> ApiError:
    log.warning("unavailable: %s: %s", type(err).__name__, err)
    return ApiError(
        503,
        "unavailable",
        "the referral service is unreachable; try again shortly",
        headers={"Retry-After": "5"},
    )
