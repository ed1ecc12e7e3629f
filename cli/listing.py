"""`referral list`: a visibility query, fetched page by page up to --limit (or --all), with a
note on stderr and a continuation token when the list was cut."""

from __future__ import annotations

import argparse
import base64
import binascii
import sys
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client, WorkflowExecution

from cli.context import Context
from cli.errors import bad_input
from cli.output import Column, note, print_json, print_table, say, when
from db.engine import DatabaseUnavailable
from db.external_refs import ExternalRefs
from db.stuck import StuckReferral, stuck_referrals
from domain import names, overdue
from domain.spreadsheet import to_csv
from workflows import search_attributes as sa

DEFAULT_LIMIT = 200
MAX_PAGE = 1000  # the most one visibility request returns

COLUMNS = (
    Column("id", keep=True),
    Column("status", keep=True, status=True),
    Column("type", keep=True, drop=2),
    Column("partner", keep=True),
    Column("country", keep=True, drop=3),
    Column("workloads", min_width=10),
    Column("sla due", keep=True, drop=1),
)

STUCK_COLUMNS = (Column("id", keep=True), Column("status", keep=True, status=True), Column("why"))


def page_token(text: str) -> bytes:
    """argparse type: the continuation token a cut list printed."""
    try:
        token = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        token = b""
    if not token:
        raise argparse.ArgumentTypeError(f"not a page token: {text!r}")
    return token


def show_token(token: bytes) -> str:
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def _quote(value: str) -> str:
    if '"' in value or "\\" in value:
        raise bad_input(f"invalid filter value {value!r}")
    return f'"{value}"'


def visibility_query(args: argparse.Namespace, now_iso: str) -> str:
    parts = [f"WorkflowType = {_quote(names.WORKFLOW_REFERRAL)}"]
    if args.status:
        parts.append(f"ReferralStatus = {_quote(args.status)}")
    if args.partner:
        parts.append(f"PartnerId = {_quote(args.partner)}")
    if args.type:
        parts.append(f"ReferralType = {_quote(args.type)}")
    if args.country:
        parts.append(f"CustomerCountry = {_quote(args.country)}")
    if args.overdue:  # `domain.overdue`: the answer deadline is set only while pending
        contact = f"ContactOverdue = true AND ReferralStatus = {_quote(overdue.CONTACT_STATUS)}"
        parts.append(f"(SlaDueAt < {_quote(now_iso)} OR ({contact}))")
    return " AND ".join(parts)


async def fetch(
    client: Client, query: str, limit: int | None, after: bytes | None
) -> tuple[list[WorkflowExecution], bytes | None]:
    """Up to `limit` executions (all when None) from `after` on, and the token of the rest
    (None when nothing more matches)."""
    found: list[WorkflowExecution] = []
    pages = client.list_workflows(query, next_page_token=after)
    token = after
    while limit is None or len(found) < limit:
        want = MAX_PAGE if limit is None else min(limit - len(found), MAX_PAGE)
        await pages.fetch_next_page(page_size=want)
        found.extend(pages.current_page or [])
        token = pages.next_page_token
        if not token:
            return found, None
    # A full last page may still be followed by nothing: look one row ahead before saying so.
    peek = client.list_workflows(query, next_page_token=token)
    await peek.fetch_next_page(page_size=1)
    return found, token if peek.current_page else None


def row(wf: WorkflowExecution) -> dict[str, Any]:
    attrs = wf.typed_search_attributes
    return {
        "referral_id": wf.id,
        "status": attrs.get(sa.REFERRAL_STATUS) or "",
        "type": attrs.get(sa.REFERRAL_TYPE) or "",
        "partner": attrs.get(sa.PARTNER_ID),
        "country": attrs.get(sa.CUSTOMER_COUNTRY) or "",
        "workloads": list(attrs.get(sa.WORKLOADS) or []),
        "sla_due_at": attrs.get(sa.SLA_DUE_AT),
        "escalated": bool(attrs.get(sa.ESCALATED)),
        "parent": attrs.get(sa.PARENT_REFERRAL),
        "execution_status": wf.status.name.lower() if wf.status else "",
        "started_at": wf.start_time,
        "closed_at": wf.close_time,
    }


CSV_HEADER = (
    "referral_id",
    "status",
    "type",
    "partner",
    "country",
    "workloads",
    "sla_due_at",
    "escalated",
    "parent",
    "execution_status",
    "started_at",
    "closed_at",
    "external_ref",
)


async def csv_rows(ctx: Context, rows: list[dict[str, Any]]) -> str:
    """The list as CSV; `external_ref` is the current partner's own record id (from the
    database; empty when it is away)."""
    try:
        refs = await ExternalRefs(await ctx.sessions()).of_referral(r["referral_id"] for r in rows)
    except (DatabaseUnavailable, SQLAlchemyError, OSError):
        refs = {}
    return to_csv(
        CSV_HEADER,
        (
            (
                *(r[k] for k in CSV_HEADER[:-1]),
                refs.get(r["referral_id"], {}).get(r["partner"] or ""),
            )
            for r in rows
        ),
    )


async def list_referrals(ctx: Context, args: argparse.Namespace) -> int:
    limit = None if args.all else args.limit
    if getattr(args, "stuck", False):
        rows = await stuck_rows(ctx, args, limit)
    else:
        now_iso = ctx.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        query = visibility_query(args, now_iso)
        client = await ctx.client()
        executions, rest = await fetch(client, query, limit, args.after)
        rows = [row(wf) for wf in executions]
        if rest is not None:
            note(
                f"showing {len(rows)} referrals, more match: continue with --after "
                f"{show_token(rest)} (same filters), or use --all or a larger --limit"
            )
    if args.json:
        print_json(rows)
        return 0
    if getattr(args, "csv", False):
        sys.stdout.write(await csv_rows(ctx, rows))
        return 0
    if not rows:
        say("no referrals match")
        return 0
    if getattr(args, "stuck", False):
        print_table(STUCK_COLUMNS, [(r["referral_id"], r["status"], r["stuck"]) for r in rows])
        return 0
    print_table(
        COLUMNS,
        [
            (
                r["referral_id"],
                r["status"],
                r["type"],
                r["partner"],
                r["country"],
                r["workloads"],
                when(r["sla_due_at"]),
            )
            for r in rows
        ],
    )
    return 0


async def stuck_rows(
    ctx: Context, args: argparse.Namespace, limit: int | None
) -> list[dict[str, Any]]:
    """`--stuck`: the watchdog's verdict over the read model (`db.stuck`), with the other
    filters; the rows have the visibility rows' keys, plus `stuck` (why)."""
    if args.after is not None or args.overdue:
        raise bad_input("--stuck cannot be combined with --after or --overdue")
    found = await stuck_referrals(await ctx.sessions(), ctx.now())
    wanted = {
        "status": args.status,
        "partner_id": args.partner,
        "type": args.type,
        "customer_country": args.country,
    }
    rows = [
        stuck_row(s)
        for s in found
        if all(v is None or getattr(s.row, k) == v for k, v in wanted.items())
    ]
    if limit is not None and len(rows) > limit:
        note(f"showing {limit} of {len(rows)} stuck referrals: use --all or a larger --limit")
        rows = rows[:limit]
    return rows


def stuck_row(s: StuckReferral) -> dict[str, Any]:
    r = s.row
    return {
        "referral_id": r.workflow_id,
        "status": r.status,
        "type": r.type,
        "partner": r.partner_id,
        "country": r.customer_country,
        "workloads": list(r.workloads),
        "sla_due_at": r.sla_due_at,
        "escalated": r.escalated,
        "parent": r.parent_id,
        "execution_status": "closed" if r.closed_at else "running",
        "started_at": r.created_at,
        "closed_at": r.closed_at,
        "stuck": s.why,
    }
