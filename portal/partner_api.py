"""The partner JSON API (bearer token): the caller's referrals and its actions on them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from domain.models import PartnerAction, Status
from portal.auth import Portal, PortalDep, current_partner
from portal.gateway import load
from portal.idempotency import act
from portal.schemas import (
    ActionOut,
    CompleteBody,
    DeclineBody,
    NoteBody,
    ReferralDetail,
    ReferralItem,
    errors,
    not_found,
)
from portal.views import detail, held_by, item, timezone_of

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
) -> list[ReferralItem]:
    rows = await portal.readmodel.assignments_for_partner(partner, status)
    return [item(row, partner) for row in rows]


@partner_api.get(
    "/{id}",
    response_model=ReferralDetail,
    responses=errors(401, 404, 422, 503),
    summary="One referral: customer, workloads, due time, milestones, history",
)
async def get_referral(portal: PortalDep, partner: PartnerDep, id: WorkflowId) -> ReferralDetail:
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
    "/{id}/account-team-contacted",
    response_model=ActionOut,
    responses=ACTION_RESPONSES,
    summary="Record that the Microsoft account team was contacted",
)
async def account_team_contacted_referral(
    request: Request,
    portal: PortalDep,
    partner: PartnerDep,
    id: WorkflowId,
    body: NoteBody | None = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    fields = body.model_dump() if body else {}
    return await _partner_act(request, portal, partner, id, key, "account_team_contacted", fields)


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
