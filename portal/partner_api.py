"""The partner JSON API (bearer token): the caller's referrals and its actions on them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse

from db.external_refs import ExternalRefs
from domain.models import PartnerAction, Status
from portal.auth import Portal, PortalDep, current_partner
from portal.gateway import load
from portal.idempotency import act
from portal.schemas import (
    ActionOut,
    CompleteBody,
    DeclineBody,
    ExternalRefBody,
    ExternalRefOut,
    NoteBody,
    ReferralDetail,
    ReferralItem,
    ReferralPage,
    errors,
    not_found,
)
from portal.sync import DEFAULT_LIMIT, MAX_LIMIT, SETTLE, as_utc, decode_cursor, encode_cursor
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

UpdatedSince = Annotated[
    datetime | None,
    Query(description="only referrals changed at or after this time (ISO 8601; UTC if no offset)"),
]
Limit = Annotated[
    int | None,
    Query(
        ge=1, le=MAX_LIMIT, description=f"page size, at most {MAX_LIMIT} (default {DEFAULT_LIMIT})"
    ),
]
Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=400,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="`next_cursor` of the previous page",
    ),
]

partner_api = APIRouter(prefix="/api/referrals", tags=["partner"])
PartnerDep = Annotated[str, Depends(current_partner)]


@partner_api.get(
    "",
    response_model=list[ReferralItem] | ReferralPage,
    responses=errors(401, 422, 503),
    summary="The caller's referrals (every referral or part it holds or held)",
    description="Without `updated_since`, `limit` and `cursor`: every one, oldest first, as a "
    "list. With any of them: one page `{items, next_cursor}` in update order (then id); repeat "
    "with `cursor=next_cursor` until it is null, and keep the last `updated_at` seen for the "
    "next sync.",
)
async def list_referrals(
    portal: PortalDep,
    partner: PartnerDep,
    status: StatusFilter = None,
    updated_since: UpdatedSince = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> list[ReferralItem] | ReferralPage:
    refs = ExternalRefs(portal.sessions)
    if updated_since is None and limit is None and cursor is None:
        rows = await portal.readmodel.assignments_for_partner(partner, status)
        own = await refs.of_partner(partner, [r.workflow_id for r in rows])
        return [_with_ref(item(row, partner), own) for row in rows]
    size = limit or DEFAULT_LIMIT
    rows = await refs.changes(
        partner,
        updated_since=as_utc(updated_since) if updated_since else None,
        after=decode_cursor(cursor) if cursor else None,
        status=status,
        limit=size + 1,
        settled=datetime.now(UTC) - SETTLE,
    )
    page, more = rows[:size], len(rows) > size
    own = await refs.of_partner(partner, [r.workflow_id for r in page])
    last = page[-1] if page else None
    return ReferralPage(
        items=[_with_ref(item(row, partner), own) for row in page],
        next_cursor=encode_cursor(last.updated_at, last.workflow_id) if more and last else None,
    )


def _with_ref(shown: ReferralItem, refs: dict[str, str]) -> ReferralItem:
    return shown.model_copy(update={"external_ref": refs.get(shown.id)})


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
    shown = detail(loaded, partner, await timezone_of(portal, partner))
    ref = await ExternalRefs(portal.sessions).get(id, partner)
    return shown.model_copy(update={"external_ref": ref})


@partner_api.put(
    "/{id}/external-ref",
    response_model=ExternalRefOut,
    responses=errors(401, 404, 422, 503),
    summary="Store the caller's own record id (its CRM's) on the referral; empty removes it",
)
async def put_external_ref(
    portal: PortalDep, partner: PartnerDep, id: WorkflowId, body: ExternalRefBody
) -> ExternalRefOut:
    loaded = await load(portal, id)
    if loaded is None or not held_by(loaded.state, partner):
        raise not_found()
    ref = (body.external_ref or "").strip() or None
    await ExternalRefs(portal.sessions).set(id, partner, ref, datetime.now(UTC))
    return ExternalRefOut(id=id, external_ref=ref)


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


def _note_action(path: str, update: str, summary: str) -> None:
    """`POST /{id}/<path>`: the partner's action `update`, with an optional note."""

    async def endpoint(
        request: Request,
        portal: PortalDep,
        partner: PartnerDep,
        id: WorkflowId,
        body: NoteBody | None = None,
        key: IdempotencyKey = None,
    ) -> JSONResponse:
        fields = body.model_dump() if body else {}
        return await _partner_act(request, portal, partner, id, key, update, fields)

    endpoint.__name__ = f"{update}_referral"
    partner_api.post(
        f"/{{id}}/{path}", response_model=ActionOut, responses=ACTION_RESPONSES, summary=summary
    )(endpoint)


_note_action("accept", "accept", "Accept the referral")


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


for path, update, summary in (
    ("contacted", "contacted", "Record that the customer was contacted (with the account team)"),
    ("kickoff", "kickoff", "Record the kick-off meeting"),
    ("cpor-claimed", "cpor_claimed", "Record the CPOR claim"),
    (
        "account-team-contacted",
        "account_team_contacted",
        "Record that the Microsoft account team was contacted",
    ),
):
    _note_action(path, update, summary)


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
