"""`report [--json] [--since DATE] [--html FILE]`: operations figures from the read model."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from cli.common import iso_date
from cli.context import Context
from cli.errors import bad_input
from cli.output import print_json, say, table, when
from cli.progress import Tracker
from cli.report_sections import render_guide_text
from db.directory import PartnerDirectory
from db.exports import ASSIGNMENT_HEADER, assignment_rows
from db.reports import Report, build_report
from domain.spreadsheet import to_csv
from mail.report_page import render_html


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="SLA compliance, acceptance and declines, open referrals")
    p.add_argument("--since", type=iso_date, metavar="YYYY-MM-DD", help="from this day (UTC)")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="machine-readable output")
    form.add_argument(
        "--csv",
        action="store_true",
        help="one row per assignment as CSV for spreadsheets on stdout (UTF-8 with BOM)",
    )
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page")
    p.set_defaults(handler=report)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} h"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "none"


def render_text(r: Report, names: dict[str, str]) -> str:
    since = f" since {when(r.since)}" if r.since else ""
    out = [
        f"FastTrack referrals report{since} (generated {when(r.generated_at)})",
        "",
        f"referrals:             {r.referrals_total} ({_counts(r.by_status)})",
    ]
    if r.parts_by_status:
        out.append(f"split parts:           {_counts(r.parts_by_status)}")
    out += [
        f"assignments:           {r.assignments_total}",
        f"answered within SLA:   {_pct(r.answered_within_sla_pct)}",
        f"expired (no answer):   {r.expiries}",
        f"escalations:           {r.escalations}",
        f"time to accept:        median {_hours(r.time_to_accept_median_hours)}, "
        f"p90 {_hours(r.time_to_accept_p90_hours)}",
        "",
        "acceptance by partner:",
    ]
    if r.acceptance_rate_by_partner:
        rows = [
            (
                mpn,
                names.get(mpn, ""),
                p["assigned"],
                p["accepted"],
                p["declined"],
                p["expired"],
                "-" if p["acceptance_rate"] is None else f"{100 * p['acceptance_rate']:.0f}%",
            )
            for mpn, p in r.acceptance_rate_by_partner.items()
        ]
        headers = ("partner", "name", "assigned", "accepted", "declined", "expired", "rate")
        out.append(table(headers, rows))
    else:
        out.append("  no assignments")
    out += ["", "declines by reason:"]
    if r.declines_by_reason:
        out.append(table(("reason", "declines"), r.declines_by_reason.items()))
    else:
        out.append("  no declines")
    out += ["", "open referrals by age:", table(("age", "open"), r.open_by_age.items())]
    out += render_guide_text(r, names)
    return "\n".join(out)


async def report(ctx: Context, args: argparse.Namespace) -> int:
    now = ctx.now()
    since = datetime.combine(args.since, time(), tzinfo=UTC) if args.since else None
    if since is not None and since > now:
        raise bad_input(f"--since {args.since.isoformat()} is in the future")
    html_path = Path(args.html) if args.html else None
    if html_path is not None and not html_path.parent.is_dir():
        raise bad_input(f"cannot write {args.html}: no such directory {html_path.parent}")
    with Tracker("building the report", None) as progress:
        progress.step("opening the database")
        sessions = await ctx.sessions()
        progress.step("computing the figures")
        result = await build_report(sessions, since, now, ctx.settings.sla_business_days)
        progress.step("reading partner names")
        names = {
            rec.profile.mpn_id: rec.profile.name for rec in await PartnerDirectory(sessions).list()
        }
        if html_path is not None:
            progress.step(f"writing {html_path}")
            try:
                html_path.write_text(render_html(result, names), encoding="utf-8")
            except OSError as err:
                raise bad_input(f"cannot write {args.html}: {err.strerror}") from None
    if args.json:
        print_json(result)
    elif getattr(args, "csv", False):
        rows = await assignment_rows(sessions, since)
        sys.stdout.write(to_csv(ASSIGNMENT_HEADER, (row.cells() for row in rows)))
    else:
        say(render_text(result, names))
        if html_path is not None:
            say(f"\nHTML report written to {html_path}")
    return 0
