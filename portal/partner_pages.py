"""The partner's pages: Referrals (list) and Referral (details, timeline, actions). Every action
is the same workflow update, with the same validators, as the JSON API; the form's nonce is the
update id, so a double-submitted form applies once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from db.external_refs import ExternalRefs
from db.portal_queries import Filters, ListRow, PortalQueries
from domain.models import MatchExplanation, Outcome, PartnerAction, ReferralState, Status
from domain.policy import Code, check_partner_action, program_answer
from domain.text import Text, trp
from domain.visibility import sees_customer
from mail import formats
from mail.display import status
from mail.i18n import _, translate
from portal.auth import Portal, PortalDep
from portal.forms import ActionForm, allowed_actions, read_action, reason_guidance
from portal.gateway import Loaded, load, run_update
from portal.render import render
from portal.schemas import ApiError
from portal.session import (
    PartnerViewer,
    checked_form,
    page_not_found,
    service_unavailable,
)
from portal.views import detail, held_by, timezone_of
from portal.why import why_in_words


def _refusal_words(loaded: Loaded, action: PartnerAction, body: dict[str, Any]) -> str:
    """The workflow's refusal in the page's language: the same rule asked again of the state
    now gives its words with their message id (the workflow sends English)."""
    code, message = str(body.get("error", "")), str(body.get("message", ""))
    if code == Code.CLOSED:
        return _("This referral is closed: nothing more can be recorded on it.")
    again = check_partner_action(loaded.state, action)
    if again is not None and again.message == message and again.text is not None:
        return translate(again.text)
    return refusal_text(message)


def refusal_text(message: str) -> str:
    """The workflow's refusal in the page's language when it is one of the program's answers."""
    text = program_answer(message)
    return translate(text) if text is not None else message or _("The action was refused.")


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
DONE: dict[str, Text] = {
    "accept": trp(
        "done",
        "Accepted. Contact the customer, with the account team, within two business days.",
    ),
    "decline": trp("done", "Declined. The referral goes to another partner."),
    "contacted": trp("done", "Customer contact recorded."),
    "kickoff": trp("done", "Kick-off recorded."),
    "cpor_claimed": trp("done", "CPOR claim recorded."),
    "complete": trp("done", "Engagement complete. Thank you."),
    "account_team_contacted": trp("done", "Account team contact recorded."),
}
LET_GO_WORDS: dict[str, Text] = {
    Outcome.DECLINED: trp("own outcome", "you declined"),
    Outcome.EXPIRED: trp("own outcome", "you let it expire"),
    Outcome.WITHDRAWN: trp("own outcome", "withdrawn by the program"),
}


def time_left(due_at: datetime | None, tz: str, now: datetime) -> tuple[str, str, bool]:
    """(what is left, the deadline in the page's zone and language, overdue)."""
    if due_at is None:
        return "", "", False
    left, overdue = formats.time_left(due_at, now)
    return left, formats.moment_long(due_at, named=False), overdue


def _row_view(row: ListRow, mpn_id: str, tz: str, now: datetime) -> dict[str, Any]:
    let_go = not sees_customer(row.own_outcome)
    mine = row.partner_id == mpn_id
    left, local, overdue = ("", "", False)
    if mine and row.status == Status.PENDING:
        left, local, overdue = time_left(row.sla_due_at, tz, now)
    return {
        "row": row,
        "customer": "" if let_go else row.customer_name,
        "status": translate(LET_GO_WORDS[row.own_outcome])
        if row.own_outcome in LET_GO_WORDS
        else status(row.status),
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
        title=_("Referrals"),
        nav="/referrals",
        shows_times=True,
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
    """The match explanation of the partner's latest assignment, in the partner's words."""
    own = [a for a in state.assignments if a.partner == mpn_id]
    explanation: MatchExplanation | None = own[-1].explanation if own else None
    return why_in_words(explanation) if explanation is not None else []


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
        title=_("Referral %(id)s", id=view.id),
        nav="/referrals",
        shows_times=True,
        currency=portal.settings.program_currency,
        r=view,
        forms=forms,
        guidance=reason_guidance(),
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
        request,
        portal,
        viewer.mpn_id,
        loaded,
        message=translate(DONE[done]) if done in DONE else "",
        kind="ok",
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
        raise service_unavailable() from err
    if status_code != 200:
        # Refused by the workflow's validator: nothing changed; the answer goes next to the form.
        loaded = await _loaded_for(portal, id, viewer.mpn_id)
        shown.message = _refusal_words(loaded, replace(update, action=action), body)
        return await _referral_page(
            request, portal, viewer.mpn_id, loaded, {action: shown}, status_code=409
        )
    return RedirectResponse(f"/referrals/{quote(id)}?done={action}", status_code=303)
