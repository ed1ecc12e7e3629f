"""`partners audit`: the directory audit trail (profiles, pauses, tokens, claims)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, time
from typing import Any

from cli.common import iso_date, mpn_id, positive
from cli.context import Context
from cli.output import print_json, say, table, when
from db.audit import DirectoryAudit
from domain.claims import tenant_key


def register(psub: Any) -> None:
    p = psub.add_parser("audit", help="who changed the directory, what, when and why")
    p.add_argument("--partner", type=mpn_id, metavar="MPN_ID", help="one partner's changes")
    p.add_argument("--tenant", metavar="TENANT_ID", help="one customer tenant's claims")
    p.add_argument("--since", type=iso_date, metavar="YYYY-MM-DD", help="from this day (UTC)")
    p.add_argument("--limit", type=positive, default=200, help="the last N events (default 200)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=show_audit)


async def show_audit(ctx: Context, args: argparse.Namespace) -> int:
    since = datetime.combine(args.since, time(), tzinfo=UTC) if args.since else None
    tenant = tenant_key(args.tenant) if args.tenant else None
    audit = DirectoryAudit(await ctx.sessions())
    events = await audit.list(args.partner, tenant, since, args.limit)
    if args.json:
        print_json(events)
        return 0
    if not events:
        say("no directory changes match")
        return 0
    headers = ("at", "who", "action", "partner", "tenant", "what", "why")
    rows = [
        (when(e.at), e.actor, e.action, e.mpn_id, e.tenant_id, e.detail, e.reason) for e in events
    ]
    say(table(headers, rows))
    return 0
