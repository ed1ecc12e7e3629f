"""The partner and admin JSON API. Reads lists from the read model, live state through the
workflow's `details` query, and acts only through workflow updates."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from temporalio.client import (
    RPCTimeoutOrCancelledError,
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
from domain.business_days import format_local
from domain.models import (
    ActionResult,
    Assignment,
    Milestones,
    OperatorAction,
    PartnerAction,
    Referral,
    ReferralState,
    Status,
)
from domain.policy import Code
from domain.validation import referral_to_json
from portal.auth import ADMIN_SCOPE, Portal, PortalDep, current_operator, current_partner
from portal.schemas import (
    ActionOut,
    AdminReferralDetail,
    AdminReferralItem,
    ApiError,
    CancelBody,
    CompleteBody,
    DeclineBody,
    NoteBody,
    ReferralDetail,
    ReferralItem,
    RetryBody,
    errors,
    not_found,
)
from runtime.temporal import TemporalUnavailable

log = logging.getLogger("fasttrack.portal")

QUERY_TIMEOUT = timedelta(seconds=10)
UPDATE_TIMEOUT = timedelta(seconds=30)

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

WorkflowId = Annotated[str, Path(min_length=1, max_length=80, description="referral or part id")]
StatusFilter = Annotated[
    str | None, Query(pattern=f"^({'|'.join(Status.ALL)})$", description="only this status")
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="repeat a POST with the same key: the first answer is returned, once",
    ),
]


# ------------------------------------------------------------------- workflow gateway


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
    try:
        result = await handle.execute_update(
            update, arg, id=update_id, result_type=ActionResult, rpc_timeout=UPDATE_TIMEOUT
        )
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError):
            return 409, {"error": cause.type or "refused", "message": cause.message}
        return 409, {"error": "refused", "message": str(cause or err)}
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            # The workflow has ended: nothing can be recorded on it any more.
            status = loaded.state.status
            done = f"already {status}" if status in Status.CLOSED else "no longer open"
            return 409, {"error": Code.CLOSED, "message": f"referral {workflow_id} is {done}"}
        raise unavailable(err) from err
    except TEMPORAL_DOWN as err:
        raise unavailable(err) from err
    out = ActionOut(id=result.referral_id, status=result.status, message=result.message)
    log.info("%s on %s: %s", update, workflow_id, result.message)
    return 200, out.model_dump()


def unavailable(err: BaseException) -> ApiError:
    log.warning("unavailable: %s: %s", type(err).__name__, err)
    return ApiError(
        503,
        "unavailable",
        "the referral service is unreachable; try again shortly",
        headers={"Retry-After": "5"},
    )


def request_hash(method: str, path: str, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = body.decode("utf-8", "replace")
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


async def act(
    portal: Portal,
    request: Request,
    scope: str,
    key: str | None,
    workflow_id: str,
    update: str,
    arg: Any,
    may_act: Callable[[ReferralState], bool],
) -> JSONResponse:
    """Idempotent action: a repeated Idempotency-Key returns the first answer; the key is also
    the update id, so even a concurrent repeat is applied once."""
    digest = request_hash(request.method, request.url.path, await request.body())
    if key is not None:
        stored = await portal.tokens.recall(scope, key)
        if stored is not None:
            stored_hash, status_code, body = stored
            if stored_hash != digest:
                raise ApiError(
                    422,
                    "idempotency_key_reused",
                    "this Idempotency-Key was already used for a different request",
                )
            return JSONResponse(body, status_code=status_code)
    loaded = await load(portal, workflow_id)
    if loaded is None or not may_act(loaded.state):
        raise not_found()
    status_code, body = await run_update(
        portal, loaded, update, arg, f"{scope}:{key}" if key else None
    )
    if key is not None:
        await portal.tokens.remember(scope, key, digest, status_code, body, datetime.now(UTC))
    return JSONResponse(body, status_code=status_code)


# ------------------------------------------------------------------------------ views


def held_by(state: ReferralState, partner: str) -> bool:
    return any(a.partner == partner for a in state.assignments)


async def timezone_of(portal: Portal, partner: str | None) -> str:
    record = await portal.directory.get(partner) if partner else None
    return record.profile.timezone if record else "UTC"


def due(at: datetime | None, tz: str) -> dict[str, Any] | None:
    if at is None:
        return None
    try:
        local = format_local(at, tz)
    except ValueError:
        tz, local = "UTC", format_local(at, "UTC")
    return {"utc": at, "local": local, "timezone": tz}


def item(row: ReferralRow, viewer: str | None) -> dict[str, Any]:
    current = viewer is not None and row.partner_id == viewer
    return {
        "id": row.workflow_id,
        "referral_id": row.referral_id,
        "parent_id": row.parent_id,
        "type": row.type,
        "status": row.status,
        "workloads": row.workloads,
        "customer_name": str(row.referral.get("customer", {}).get("name", "")),
        "customer_country": row.customer_country,
        "seats": row.seats,
        "current": current,
        "due_at": row.sla_due_at if (current or viewer is None) else None,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "partner_id": row.partner_id,
        "escalated": row.escalated,
        "contact_overdue": row.contact_overdue,
        "closed_at": row.closed_at,
    }


def _mentions(text: str, partners: set[str]) -> bool:
    return any(re.search(rf"(?<![\w]){re.escape(p)}(?![\w])", text) for p in partners)


def detail(loaded: Loaded, viewer: str | None, tz: str) -> dict[str, Any]:
    """The detail view; `viewer` None is the operators' view (everything)."""
    state = loaded.state
    referral = value_to_type(Referral, loaded.row.referral)
    open_a = state.current
    latest: Assignment | None = state.assignments[-1] if state.assignments else None
    if viewer is None:
        mine, assignments, history = True, state.assignments, state.history
        current = False
        shown = open_a
    else:
        mine = latest is not None and latest.partner == viewer
        current = open_a is not None and open_a.partner == viewer
        shown = open_a if current else None
        assignments = [a for a in state.assignments if a.partner == viewer]
        others = {a.partner for a in state.assignments} - {viewer}
        history = [
            e
            for e in state.history
            if not (e.actor.startswith("partner:") and e.actor != f"partner:{viewer}")
            and not _mentions(e.detail, others)
        ]
    milestones = state.milestones if mine else Milestones()
    return {
        "id": state.workflow_id,
        "referral_id": state.referral_id,
        "parent_id": state.parent_id,
        "type": state.type,
        "status": state.status,
        "workloads": state.workloads,
        "customer": referral_to_json(referral)["customer"],
        "active_usage": {w: v for w, v in referral.active_usage.items() if w in state.workloads},
        "notes": referral.notes,
        "requested_by": {
            "name": referral.requested_by.name,
            "email": referral.requested_by.email,
            "microsoft": referral.requested_by.microsoft,
        },
        "account_team": referral.account_team,
        "current": current,
        "waiting_for": state.waiting_for if mine else "",
        "assignment": _assignment(shown) if shown else None,
        "due": due(shown.due_at, tz) if shown and shown.outcome == "pending" else None,
        "contact_due": due(milestones.contact_due_at, tz)
        if shown and shown.outcome == "accepted"
        else None,
        "assignments": [_assignment(a) for a in assignments],
        "milestones": {
            "contacted_at": milestones.contacted_at,
            "kickoff_at": milestones.kickoff_at,
            "cpor_claimed_at": milestones.cpor_claimed_at,
            "contact_due_at": milestones.contact_due_at,
            "contact_overdue": milestones.contact_overdue,
        },
        "completion": _completion(state) if mine else None,
        "history": [
            {
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "detail": e.detail,
                "refused": e.refused,
            }
            for e in history
        ],
        "source": loaded.source,
        "parts": [
            {
                "id": p.workflow_id,
                "workloads": p.workloads,
                "status": p.status,
                "partner": p.partner,
            }
            for p in state.parts
        ],
        "escalation": state.escalation,
        "cancel_reason": state.cancel_reason,
    }


def _assignment(a: Assignment) -> dict[str, Any]:
    return {
        "seq": a.seq,
        "partner": a.partner,
        "partner_name": a.partner_name,
        "outcome": a.outcome,
        "assigned_at": a.assigned_at,
        "due_at": a.due_at,
        "decided_at": a.decided_at,
        "reason": a.reason,
        "note": a.note,
    }


def _completion(state: ReferralState) -> dict[str, Any] | None:
    c = state.completion
    if c is None:
        return None
    return {
        "vas_sold": c.vas_sold,
        "vas_value": c.vas_value,
        "notes": c.notes,
        "completed_at": c.completed_at,
    }


# ------------------------------------------------------------------------ partner API

partner_api = APIRouter(prefix="/api/referrals", tags=["partner"])
PartnerDep = Annotated[str, Depends(current_partner)]


@partner_api.get(
    "",
    response_model=list[ReferralItem],
    responses=errors(401, 422, 503),
    summary="The caller's referrals (every referral or part it holds or held)",
)
async def list_referrals(
    portal: PortalDep, partner: PartnerDep, status: StatusFilter = None
) -> list[dict[str, Any]]:
    rows = await portal.readmodel.assignments_for_partner(partner, status)
    return [item(row, partner) for row in rows]


@partner_api.get(
    "/{id}",
    response_model=ReferralDetail,
    responses=errors(401, 404, 422, 503),
    summary="One referral: customer, workloads, due time, milestones, history",
)
async def get_referral(portal: PortalDep, partner: PartnerDep, id: WorkflowId) -> dict[str, Any]:
    loaded = await load(portal, id)
    if loaded is None or not held_by(loaded.state, partner):
        raise not_found()
    return detail(loaded, partner, await timezone_of(portal, partner))


async def _partner_act(
    request: Request,
    portal: Portal,
    partner: str,
    id: str,
    key: str | None,
    update: str,
    fields: dict[str, Any],
) -> JSONResponse:
    action = PartnerAction(partner=partner, action=update, **fields)
    return await act(
        portal, request, partner, key, id, update, action, lambda s: held_by(s, partner)
    )


ACTION_RESPONSES = errors(401, 404, 409, 422, 503)


@partner_api.post(
    "/{id}/accept",
    response_model=ActionOut,
    responses=ACTION_RESPONSES,
    summary="Accept the referral",
)
async def accept_referral(
    request: Request,
    portal: PortalDep,
    partner: PartnerDep,
    id: WorkflowId,
    body: NoteBody | None = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    fields = body.model_dump() if body else {}
    return await _partner_act(request, portal, partner, id, key, "accept", fields)


@partner_api.post(
    "/{id}/decline",
    response_model=ActionOut,
    responses=ACTION_RESPONSES,
    summary="Decline with a reason (some reasons are refused by policy)",
)
async def decline_referral(
    request: Request,
    portal: PortalDep,
    partner: PartnerDep,
    id: WorkflowId,
    body: DeclineBody,
    key: IdempotencyKey = None,
) -> JSONResponse:
    fields = body.model_dump()
    return await _partner_act(request, portal, partner, id, key, "decline", fields)


@partner_api.post(
    "/{id}/contacted",
    response_model=ActionOut,
    responses=ACTION_RESPONSES,
    summary="Record that the customer was contacted (with the account team)",
)
async def contacted_referral(
    request: Request,
    portal: PortalDep,
    partner: PartnerDep,
    id: WorkflowId,
    body: NoteBody | None = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    fields = body.model_dump() if body else {}
    return await _partner_act(request, portal, partner, id, key, "contacted", fields)


@partner_api.post(
    "/{id}/kickoff",
    response_model=ActionOut,
    responses=ACTION_RESPONSES,
    summary="Record the kick-off meeting",
)
async def kickoff_referral(
    request: Request,
    portal: PortalDep,
    partner: PartnerDep,
    id: WorkflowId,
    body: NoteBody | None = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    fields = body.model_dump() if body else {}
    return await _partner_act(request, portal, partner, id, key, "kickoff", fields)


@partner_api.post(
    "/{id}/cpor-claimed",
    response_model=ActionOut,
    responses=ACTION_RESPONSES,
    summary="Record the CPOR claim",
)
async def cpor_claimed_referral(
    request: Request,
    portal: PortalDep,
    partner: PartnerDep,
    id: WorkflowId,
    body: NoteBody | None = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    fields = body.model_dump() if body else {}
    return await _partner_act(request, portal, partner, id, key, "cpor_claimed", fields)


@partner_api.post(
    "/{id}/complete",
    response_model=ActionOut,
    responses=ACTION_RESPONSES,
    summary="Close the engagement: value-added services sold, their value, notes",
)
async def complete_referral(
    request: Request,
    portal: PortalDep,
    partner: PartnerDep,
    id: WorkflowId,
    body: CompleteBody,
    key: IdempotencyKey = None,
) -> JSONResponse:
    fields = body.model_dump()
    return await _partner_act(request, portal, partner, id, key, "complete", fields)


# -------------------------------------------------------------------------- admin API

admin_api = APIRouter(prefix="/api/admin/referrals", tags=["operations"])
OperatorDep = Annotated[str, Depends(current_operator)]


@admin_api.get(
    "",
    response_model=list[AdminReferralItem],
    responses=errors(401, 404, 422, 503),
    summary="Every referral and part (filter by status and current partner)",
)
async def admin_list(
    portal: PortalDep,
    operator: OperatorDep,
    status: StatusFilter = None,
    partner: Annotated[str | None, Query(max_length=32)] = None,
) -> list[dict[str, Any]]:
    rows = await portal.readmodel.list(status=status, partner=partner)
    return [item(row, None) for row in rows]


@admin_api.get(
    "/{id}",
    response_model=AdminReferralDetail,
    responses=errors(401, 404, 422, 503),
    summary="One referral with every assignment, part and history entry",
)
async def admin_get(portal: PortalDep, operator: OperatorDep, id: WorkflowId) -> dict[str, Any]:
    loaded = await load(portal, id)
    if loaded is None:
        raise not_found()
    current = loaded.state.current
    tz = await timezone_of(portal, current.partner if current else None)
    return detail(loaded, None, tz)


@admin_api.post(
    "/{id}/retry",
    response_model=ActionOut,
    responses=errors(401, 404, 409, 422, 503),
    summary="Match an escalated referral again",
)
async def admin_retry(
    request: Request,
    portal: PortalDep,
    operator: OperatorDep,
    id: WorkflowId,
    body: RetryBody | None = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    op = OperatorAction("retry", body.reason if body else "", operator)
    return await act(portal, request, ADMIN_SCOPE, key, id, "retry", op, lambda _: True)


@admin_api.post(
    "/{id}/cancel",
    response_model=ActionOut,
    responses=errors(401, 404, 409, 422, 503),
    summary="Cancel a referral (a reason is required)",
)
async def admin_cancel(
    request: Request,
    portal: PortalDep,
    operator: OperatorDep,
    id: WorkflowId,
    body: CancelBody,
    key: IdempotencyKey = None,
) -> JSONResponse:
    op = OperatorAction("cancel", body.reason, operator)
    return await act(portal, request, ADMIN_SCOPE, key, id, "cancel", op, lambda _: True)
