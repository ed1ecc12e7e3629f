"""The operators' JSON API (PORTAL_ADMIN_TOKEN): every referral, retry and cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from domain.models import OperatorAction
from portal.auth import ADMIN_SCOPE, PortalDep, current_operator
from portal.gateway import load
from portal.idempotency import act
from portal.partner_api import IdempotencyKey, StatusFilter, WorkflowId
from portal.schemas import (
    ActionOut,
    AdminReferralDetail,
    AdminReferralItem,
    CancelBody,
    RetryBody,
    errors,
    not_found,
)
from portal.views import admin_detail, admin_item, timezone_of

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
    partner: Annotated[str | None, Query(max_length=32, pattern=r"^[\x21-\x7e]+$")] = None,
) -> list[AdminReferralItem]:
    rows = await portal.readmodel.list(status=status, partner=partner)
    return [admin_item(row) for row in rows]


@admin_api.get(
    "/{id}",
    response_model=AdminReferralDetail,
    responses=errors(401, 404, 422, 503),
    summary="One referral with every assignment, part and history entry",
)
async def admin_get(
    portal: PortalDep, operator: OperatorDep, id: WorkflowId
) -> AdminReferralDetail:
    loaded = await load(portal, id)
    if loaded is None:
        raise not_found()
    current = loaded.state.current
    tz = await timezone_of(portal, current.partner if current else None)
    return admin_detail(loaded, tz)


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
