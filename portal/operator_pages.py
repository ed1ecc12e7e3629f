"""The operators' pages: Escalations (why nobody was eligible; retry or cancel as the signed-in
operator), Referrals (search; each links to its workflow in the Temporal Web UI), Partners
(search, profile, pause / resume, API tokens shown once) and Reports (as `starter.py report`,
plus weekly trends and the overdue referrals)."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from temporalio.converter import value_to_type

from activities.matching import ranking_terms
from db.portal_queries import Filters, PortalQueries, weekly_trends
from db.reports import build_report
from db.stuck import stuck_referrals
from db.track_record import scorecards
from domain import track_record as tr
from domain.models import OperatorAction, ReferralState, Status
from domain.pauses import PauseError, is_paused, latest_pause_day
from domain.policy import check_operator_action, reason_problem
from mail import formats
from mail.display import escalation_why
from mail.i18n import _, _n, translate
from mail.report_page import report_view
from portal.auth import Portal, PortalDep
from portal.gateway import load, run_update
from portal.partner_pages import refusal_text
from portal.profile_pages import recent_changes
from portal.render import render
from portal.schemas import ApiError
from portal.session import (
    OperatorViewer,
    PageProblem,
    checked_form,
    page_not_found,
    service_unavailable,
)

router = APIRouter(prefix="/ops", include_in_schema=False)

PER_PAGE = 50
Text = Annotated[str, Query(max_length=80)]
PageNo = Annotated[int, Query(ge=1, le=100_000)]
WorkflowId = Annotated[str, Path(min_length=1, max_length=80)]
MpnId = Annotated[str, Path(min_length=1, max_length=32)]


def web_ui_link(portal: Portal, workflow_id: str) -> str:
    s = portal.settings
    return f"{s.ui_origin}/namespaces/{quote(s.temporal_namespace)}/workflows/{quote(workflow_id)}"


# -------------------------------------------------------------------------- escalations


@router.get("/escalations", response_class=HTMLResponse)
async def escalations(
    request: Request, portal: PortalDep, viewer: OperatorViewer, done: Text = ""
) -> HTMLResponse:
    rows = await portal.readmodel.list(status=Status.ESCALATED)
    items = []
    for row in reversed(rows):
        state = value_to_type(ReferralState, row.state)
        by = state.escalated_by  # the match that escalated it
        items.append(
            {
                "row": row,
                "customer": str(row.referral.get("customer", {}).get("name", "")),
                "why": escalation_why(by) if by else state.escalation,
                "removed": {k: n for k, n in by.removed.items() if n} if by else {},
                "tried": [a.partner for a in state.assignments],
                "web_ui": web_ui_link(portal, row.workflow_id),
                "nonce": secrets.token_urlsafe(16),
            }
        )
    stuck = [
        {"row": s.row, "why": translate(s.reason), "web_ui": web_ui_link(portal, s.row.workflow_id)}
        for s in await stuck_referrals(portal.sessions, datetime.now(UTC))
    ]
    return render(
        request,
        "ops_escalations",
        title=_("Escalations"),
        nav="/ops/escalations",
        items=items,
        stuck=stuck,
        shows_times=bool(stuck),
        message=done,
        kind="ok",
        errors={},
    )


@router.post("/escalations/{id}/{action}", response_class=HTMLResponse)
async def operate(
    id: WorkflowId,
    action: Annotated[str, Path(pattern="^(retry|cancel)$")],
    request: Request,
    portal: PortalDep,
    viewer: OperatorViewer,
) -> Response:
    form = await checked_form(request, viewer)
    reason = form.get("reason", "").strip()[:2000]
    problem = reason_problem(action, reason)
    if problem is not None:
        raise PageProblem(422, _("A reason is needed"), translate(problem))
    loaded = await load(portal, id)
    if loaded is None:
        raise page_not_found()
    op = OperatorAction(action, reason, viewer.actor.who)  # "operator:EMAIL", as the audit
    refusal = check_operator_action(loaded.state, action, reason)  # the workflow's validator
    if refusal is not None:  # answered in the page's language (the state may be a moment old)
        raise PageProblem(409, _("Refused"), translate(refusal.text) if refusal.text else "")
    nonce = form.get("nonce", "")[:64] or secrets.token_urlsafe(16)
    try:
        status_code, body = await run_update(portal, loaded, action, op, f"ops:{nonce}")
    except ApiError as err:
        raise service_unavailable() from err
    if status_code != 200:
        raise PageProblem(409, _("Refused"), refusal_text(str(body.get("message", ""))))
    done = _("retry recorded") if action == "retry" else _("cancel recorded")
    message = f"{id}: {done}"
    return RedirectResponse(f"/ops/escalations?done={quote(message)}", status_code=303)


# ---------------------------------------------------------------------------- referrals


@router.get("/referrals", response_class=HTMLResponse)
async def referrals(
    request: Request,
    portal: PortalDep,
    viewer: OperatorViewer,
    status: Text = "",
    partner: Text = "",
    type: Text = "",
    country: Text = "",
    overdue: Text = "",
    page: PageNo = 1,
) -> HTMLResponse:
    f = Filters(
        status=status if status in Status.ALL else None,
        type=type if type in ("benefit", "standard") else None,
        partner=partner.strip() or None,
        country=country.strip().upper() or None,
        overdue=overdue == "yes",
    )
    now = datetime.now(UTC)
    found = await PortalQueries(portal.sessions).search(f, page, PER_PAGE, now)
    query = "&".join(
        f"{k}={quote(v)}"
        for k, v in [
            ("status", status),
            ("partner", partner),
            ("type", type),
            ("country", country),
            ("overdue", overdue),
        ]
        if v
    )
    return render(
        request,
        "ops_referrals",
        title=_("Referrals"),
        shows_times=True,
        nav="/ops/referrals",
        found=found,
        links={r.workflow_id: web_ui_link(portal, r.workflow_id) for r in found.rows},
        f=f,
        statuses=Status.ALL,
        query=query,
        now=now,
    )


# ----------------------------------------------------------------------------- partners


@router.get("/partners", response_class=HTMLResponse)
async def partners(
    request: Request, portal: PortalDep, viewer: OperatorViewer, q: Text = ""
) -> HTMLResponse:
    needle = q.strip().lower()
    records = [
        r
        for r in await portal.directory.list()
        if not needle
        or needle in r.profile.mpn_id.lower()
        or needle in r.profile.name.lower()
        or needle in r.profile.referral_contact.lower()
    ]
    ranking, found = await scorecards(portal.sessions, ranking_terms(portal.settings))
    cards = {mpn: tr.scorecard(mpn, record, ranking) for mpn, _, record in found}
    return render(
        request,
        "ops_partners",
        title=_("Partners"),
        nav="/ops/partners",
        records=records,
        q=q,
        cards=cards,
        ranking=ranking,
        attention=[c for c in cards.values() if c.standing == tr.NEEDS_ATTENTION],
    )


async def _partner_page(
    request: Request,
    portal: Portal,
    mpn_id: str,
    message: str = "",
    token: str = "",
    error: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    record = await portal.directory.get(mpn_id)
    if record is None:
        raise page_not_found()
    now = datetime.now(UTC)
    return render(
        request,
        "ops_partner",
        status_code,
        title=_("Partner %(name)s", name=record.profile.name),
        shows_times=True,
        nav="/ops/partners",
        record=record,
        p=record.profile,
        message=message,
        token=token,
        errors={"until": error} if error else {},
        paused=is_paused(record.profile.paused_until, record.profile.timezone, now),
        max_pause=latest_pause_day(record.profile.timezone, now).isoformat(),
        audit=await recent_changes(portal, mpn_id),
    )


@router.get("/partners/{mpn_id}", response_class=HTMLResponse)
async def partner(
    mpn_id: MpnId, request: Request, portal: PortalDep, viewer: OperatorViewer, done: Text = ""
) -> HTMLResponse:
    return await _partner_page(request, portal, mpn_id, done)


@router.post("/partners/{mpn_id}/{action}", response_class=HTMLResponse)
async def partner_action(
    mpn_id: MpnId,
    action: Annotated[str, Path(pattern="^(pause|resume|token|revoke)$")],
    request: Request,
    portal: PortalDep,
    viewer: OperatorViewer,
) -> Response:
    form = await checked_form(request, viewer)
    if await portal.directory.get(mpn_id) is None:
        raise page_not_found()
    now = datetime.now(UTC)
    if action == "token":
        token = await portal.tokens.issue(mpn_id, now, viewer.actor)
        message = _("New API token. Copy it now: it is shown only once.")
        return await _partner_page(request, portal, mpn_id, message, token)
    if action == "revoke":
        n = await portal.tokens.revoke(mpn_id, now, viewer.actor)
        done = _n("%(n)s API token revoked.", "%(n)s API tokens revoked.", n)
    elif action == "resume":
        await portal.directory.resume(mpn_id, now, viewer.actor)
        done = _("Referrals resumed.")
    else:
        try:
            until = date.fromisoformat(form.get("until", "").strip())
            await portal.directory.pause(mpn_id, until, now, viewer.actor)
        except PauseError as err:
            return await _partner_page(
                request, portal, mpn_id, error=translate(err.text), status_code=422
            )
        except ValueError:
            return await _partner_page(
                request, portal, mpn_id, error=_("Enter a date as YYYY-MM-DD."), status_code=422
            )
        done = _("Referrals paused until %(until)s.", until=formats.day(until))
    return RedirectResponse(f"/ops/partners/{quote(mpn_id)}?done={quote(done)}", status_code=303)


# ------------------------------------------------------------------------------ reports


@router.get("/reports", response_class=HTMLResponse)
async def reports(request: Request, portal: PortalDep, viewer: OperatorViewer) -> HTMLResponse:
    now = datetime.now(UTC)
    report = await build_report(portal.sessions, None, now, portal.settings.sla_business_days)
    names = {r.profile.mpn_id: r.profile.name for r in await portal.directory.list()}
    overdue = await PortalQueries(portal.sessions).search(Filters(overdue=True), 1, 200, now)
    return render(
        request,
        "ops_reports",
        title=_("Reports"),
        nav="/ops/reports",
        report=report_view(report, names),
        weeks=await weekly_trends(portal.sessions, now),
        overdue=overdue,
        links={r.workflow_id: web_ui_link(portal, r.workflow_id) for r in overdue.rows},
    )
