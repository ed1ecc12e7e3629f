"""The pages' spreadsheet exports: the partner's Referrals list and the operators' Referrals
search, with the filter the page shows (`…/referrals.csv?status=…`), every matching row."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from db.external_refs import ExternalRefs
from db.portal_queries import Filters, PortalQueries
from domain.models import Status
from domain.spreadsheet import MEDIA_TYPE, to_csv
from domain.visibility import sees_customer
from portal.auth import PortalDep
from portal.session import OperatorViewer, PartnerViewer

router = APIRouter(include_in_schema=False)

MAX_ROWS = 100_000
Text = Annotated[str, Query(max_length=80)]

PARTNER_HEADER = (
    "id",
    "referral_id",
    "parent_id",
    "type",
    "status",
    "your_outcome",
    "customer",
    "customer_country",
    "seats",
    "workloads",
    "answer_due_at",
    "created_at",
    "external_ref",
)
OPERATOR_HEADER = (
    "id",
    "referral_id",
    "parent_id",
    "type",
    "status",
    "partner",
    "customer",
    "customer_country",
    "seats",
    "workloads",
    "answer_due_at",
    "escalated",
    "contact_overdue",
    "created_at",
    "external_ref",
)


def _csv(text: str, name: str) -> Response:
    return Response(
        text.encode("utf-8"),
        media_type=MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%d-%H%M")


@router.get("/referrals.csv")
async def partner_referrals_csv(
    portal: PortalDep, viewer: PartnerViewer, status: Text = "", type: Text = ""
) -> Response:
    """What the partner's Referrals page lists with the same filter (all pages)."""
    assert viewer.mpn_id is not None
    now = datetime.now(UTC)
    f = Filters(
        status=status if status in Status.ALL else None,
        type=type if type in ("benefit", "standard") else None,
    )
    found = await PortalQueries(portal.sessions).partner_page(viewer.mpn_id, f, 1, MAX_ROWS, now)
    refs = await ExternalRefs(portal.sessions).of_partner(
        viewer.mpn_id, [r.workflow_id for r in found.rows]
    )
    rows = []
    for r in found.rows:
        shown = sees_customer(r.own_outcome)
        mine = r.partner_id == viewer.mpn_id
        rows.append(
            (
                r.workflow_id,
                r.referral_id,
                r.parent_id,
                r.type,
                r.status,
                r.own_outcome,
                r.customer_name if shown else "",
                r.customer_country if shown else "",
                r.seats if shown else "",
                r.workloads,
                r.sla_due_at if mine else None,
                r.created_at,
                refs.get(r.workflow_id),
            )
        )
    return _csv(to_csv(PARTNER_HEADER, rows), f"referrals-{viewer.mpn_id}-{_stamp(now)}.csv")


@router.get("/ops/referrals.csv")
async def operator_referrals_csv(
    portal: PortalDep,
    viewer: OperatorViewer,
    status: Text = "",
    partner: Text = "",
    type: Text = "",
    country: Text = "",
    overdue: Text = "",
) -> Response:
    """What the operators' Referrals search finds with the same filter (all pages)."""
    now = datetime.now(UTC)
    f = Filters(
        status=status if status in Status.ALL else None,
        type=type if type in ("benefit", "standard") else None,
        partner=partner.strip() or None,
        country=country.strip().upper() or None,
        overdue=overdue == "yes",
    )
    found = await PortalQueries(portal.sessions).search(f, 1, MAX_ROWS, now)
    refs = await ExternalRefs(portal.sessions).of_referral(r.workflow_id for r in found.rows)
    rows = [
        (
            r.workflow_id,
            r.referral_id,
            r.parent_id,
            r.type,
            r.status,
            r.partner_id,
            r.customer_name,
            r.customer_country,
            r.seats,
            r.workloads,
            r.sla_due_at,
            r.escalated,
            r.contact_overdue,
            r.created_at,
            refs.get(r.workflow_id, {}).get(r.partner_id or ""),
        )
        for r in found.rows
    ]
    return _csv(to_csv(OPERATOR_HEADER, rows), f"referrals-{_stamp(now)}.csv")
