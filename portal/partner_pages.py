"""The partner's pages: Referrals (list) and Referral (details, timeline, actions). Every action
is the same workflow update, with the same validators, as the JSON API; the form's nonce is the
update id, so a double-submitted form applies once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from db.external_refs import ExternalRefs
from db.portal_queries import Filters, ListRow, PortalQueries
from domain.business_days import format_local
from domain.models import MatchExplanation, ReferralState, Status
from domain.visibility import sees_customer
from portal.auth import Portal, PortalDep
from portal.forms import REASON_GUIDANCE, ActionForm, allowed_actions, read_action
from portal.gateway import Loaded, load, run_update
from portal.render import render
from portal.schemas import ApiError
from portal.session import PageProblem, PartnerViewer, checked_form, page_not_found
from portal.views import detail, held_by, timezone_of

router = APIRouter(include_in_schema=False)

PER_PAGE = 25
PageNo = Annotated[int, Query(ge=1, le=100_000)]
WorkflowId = Annotated[str, Path(min_length=1, max_length=80)]
ActionName = Annotated[
    str,
    Path(
        pattern="^(accept|decline|contacted|kickoff|cpor_claimed|complete|account_team_contacted)$"
    ),
]
DONE = {
    "accept": "Accepted. Contact the customer, with the account team, within two business days.",
    "decline": "Declined. The referral goes to another partner.",
    "contacted": "Customer contact recorded.",
    "kickoff": "Kick-off recorded.",
    "cpor_claimed": "CPOR claim recorded.",
    "complete": "Engagement complete. Thank you.",
    "account_team_contacted": "Account team contact recorded.",
}


def time_left(due_at: datetime | None, tz: str, now: datetime) -> tuple[str, str, bool]:
    """(what is left, the deadline in the partner's zone, overdue)."""
    if due_at is None:
        return "", "", False
    try:
        local = format_local(due_at, tz)
    except ValueError:
        local = format_local(due_at, "UTC")
    seconds = (due_at - now).total_seconds()
    span = abs(int(seconds)) // 60
    days, rest = divmod(span, 24 * 60)
    hours, minutes = divmod(rest, 60)
    text = (
        f"{days} d {hours} h" if days else f"{hours} h {minutes} min" if hours else f"{minutes} min"
    )
    if seconds < 0:
        return f"overdue by {text}", local, True
    return f"{text} left", local, False


def _row_view(row: ListRow, mpn_id: str, tz: str, now: datetime) -> dict[str, Any]:
    let_go = not sees_customer(row.own_outcome)
    mine = row.partner_id == mpn_id
    left, local, overdue = ("", "", False)
    if mine and row.status == Status.PENDING:
        left, local, overdue = time_left(row.sla_due_at, tz, now)
    return {
        "row": row,
        "customer": "" if let_go else row.customer_name,
        "status": f"you {row.own_outcome}" if let_go else row.status,
        "left": left,
        "due_local": local,
        "overdue": overdue or (mine and row.contact_overdue),
    }


@router.get("/referrals", response_class=HTMLResponse)
async def referrals(
    request: Request,
    portal: PortalDep,
    viewer: PartnerViewer,
    status: Annotated[str, Query(max_length=16)] = "",
    type: Annotated[str, Query(max_length=16)] = "",
    page: PageNo = 1,
) -> HTMLResponse:
    assert viewer.mpn_id is not None
    status = status if status in Status.ALL else ""
    type = type if type in ("benefit", "standard") else ""
    now = datetime.now(UTC)
    tz = await timezone_of(portal, viewer.mpn_id)
    found = await PortalQueries(portal.sessions).partner_page(
        viewer.mpn_id, Filters(status=status or None, type=type or None), page, PER_PAGE, now
    )
    refs = await ExternalRefs(portal.sessions).of_partner(
        viewer.mpn_id, [r.workflow_id for r in found.rows]
    )
    return render(
        request,
        "referrals",
        title="Referrals",
        nav="/referrals",
        rows=[_row_view(r, viewer.mpn_id, tz, now) for r in found.rows],
        refs=refs,
        found=found,
        status=status,
        type=type,
        statuses=Status.ALL,
        timezone=tz,
    )


async def _loaded_for(portal: Portal, id: str, mpn_id: str) -> Loaded:
    loaded = await load(portal, id)
    if loaded is None or not held_by(loaded.state, mpn_id):
        raise page_not_found()
    return loaded


def why_matched(state: ReferralState, mpn_id: str) -> list[str]:
    """The match explanation of the partner's latest assignment, in words."""
    own = [a for a in state.assignments if a.partner == mpn_id]
    explanation: MatchExplanation | None = own[-1].explanation if own else None
    if explanation is None:
        return []
    lines = []
    if explanation.cpor == "chosen":
        lines.append("You claim this customer for CPOR (claiming partner of record).")
    lines.append(
        f"{explanation.eligible} of {explanation.candidates} partners were eligible: opted in "
        "for this referral type, endorsed for its workloads, serving its language, segment, "
        "size and country, and not paused."
    )
    for key, value in explanation.rank_keys.items():
        if key != "rule":
            lines.append(f"{key.replace('_', ' ')}: {value}")
    if explanation.note:
        lines.append(explanation.note)
    return lines


async def _referral_page(
    request: Request,
    portal: Portal,
    mpn_id: str,
    loaded: Loaded,
    forms: dict[str, ActionForm] | None = None,
    message: str = "",
    kind: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    tz = await timezone_of(portal, mpn_id)
    view = detail(loaded, mpn_id, tz)
    ref = await ExternalRefs(portal.sessions).get(view.id, mpn_id)
    view = view.model_copy(update={"external_ref": ref})
    record = await portal.directory.get(mpn_id)
    used = record.capacity_declines if record else 0
    forms = dict(forms or {})
    for action in allowed_actions(loaded.state, mpn_id, used):
        forms.setdefault(action, ActionForm(action))
    now = datetime.now(UTC)
    left = time_left(view.due.utc, tz, now) if view.due else ("", "", False)
    return render(
        request,
        "referral",
        status_code,
        title=f"Referral {view.id}",
        nav="/referrals",
        r=view,
        forms=forms,
        guidance=REASON_GUIDANCE,
        why=why_matched(loaded.state, mpn_id) if view.access == "full" else [],
        left=left,
        message=message,
        kind=kind,
    )


@router.get("/referrals/{id}", response_class=HTMLResponse)
async def referral(
    id: WorkflowId,
    request: Request,
    portal: PortalDep,
    viewer: PartnerViewer,
    done: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    assert viewer.mpn_id is not None
    loaded = await _loaded_for(portal, id, viewer.mpn_id)
    return await _referral_page(
        request, portal, viewer.mpn_id, loaded, message=DONE.get(done, ""), kind="ok"
    )


@router.post("/referrals/{id}/{action}", response_class=HTMLResponse)
async def referral_action(
    id: WorkflowId, action: ActionName, request: Request, portal: PortalDep, viewer: PartnerViewer
) -> Response:
    assert viewer.mpn_id is not None
    form = await checked_form(request, viewer)
    loaded = await _loaded_for(portal, id, viewer.mpn_id)
    update, shown = read_action(action, viewer.mpn_id, form)
    if shown.errors:
        return await _referral_page(
            request, portal, viewer.mpn_id, loaded, {action: shown}, status_code=422
        )
    try:
        status_code, body = await run_update(
            portal, loaded, action, update, f"form:{viewer.mpn_id}:{shown.nonce}"
        )
    except ApiError as err:
        raise PageProblem(503, "Please try again shortly", err.message) from err
    if status_code != 200:
        # Refused by the workflow's validator: nothing changed; the answer goes next to the form.
        shown.message = str(body.get("message", "refused"))
        loaded = await _loaded_for(portal, id, viewer.mpn_id)
        return await _referral_page(
            request, portal, viewer.mpn_id, loaded, {action: shown}, status_code=409
        )
    return RedirectResponse(f"/referrals/{quote(id)}?done={action}", status_code=303)
