"""`partners claims import|list|revoke`: CPOR claims (customer tenant -> partner, workloads)."""

from __future__ import annotations

import argparse
from typing import Any

from cli.actor import actor, add_actor_arguments, file_reason
from cli.common import mpn_id, read_text
from cli.context import Context
from cli.errors import not_found
from cli.output import print_json, say, table, when
from db.claims import ClaimRow, ClaimStore, UnknownClaim
from db.directory import UnknownPartner
from domain.claims import MAX_TENANT_ID, load_claim_lines, tenant_key


def register(psub: Any) -> None:
    claims = psub.add_parser("claims", help="CPOR claims: which partner claims which customer")
    csub = claims.add_subparsers(dest="claims_command", metavar="COMMAND", required=True)

    p = csub.add_parser("import", help="create or update claims from a JSON-lines file")
    p.add_argument(
        "file",
        metavar="FILE.jsonl",
        help='one claim per line: {"tenant_id", "mpn_id", "workloads", "claimed_at"?} '
        "('-': stdin)",
    )
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    add_actor_arguments(p)
    p.set_defaults(handler=import_claims)

    p = csub.add_parser("list", help="list claims (active ones unless --all)")
    p.add_argument("--tenant", type=tenant_id, metavar="TENANT_ID", help="one customer tenant")
    p.add_argument("--partner", type=mpn_id, metavar="MPN_ID", help="one claiming partner")
    p.add_argument("--all", action="store_true", help="include revoked claims")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=list_claims)

    p = csub.add_parser("revoke", help="end a partner's claim on a customer tenant")
    p.add_argument("--tenant", type=tenant_id, required=True, metavar="TENANT_ID")
    p.add_argument("--partner", type=mpn_id, required=True, metavar="MPN_ID")
    p.add_argument("--json", action="store_true", help="print the revoked claim as JSON")
    add_actor_arguments(p)
    p.set_defaults(handler=revoke_claim)


def tenant_id(text: str) -> str:
    """argparse type: a customer tenant id (compared without case)."""
    key = tenant_key(text)
    if not key or len(key) > MAX_TENANT_ID or not key.isprintable():
        raise argparse.ArgumentTypeError(f"not a tenant id: {text!r}")
    return key


def claim_json(c: ClaimRow) -> dict[str, Any]:
    return {
        "tenant_id": c.tenant_id,
        "mpn_id": c.mpn_id,
        "workloads": c.workloads,
        "claimed_at": c.claimed_at,
        "source": c.source,
        "referral_id": c.referral_id,
        "recorded_by": c.recorded_by,
        "revoked_at": c.revoked_at,
        "revoked_by": c.revoked_by or None,
        "revoke_reason": c.revoke_reason or None,
    }


async def import_claims(ctx: Context, args: argparse.Namespace) -> int:
    now = ctx.now()
    claims = load_claim_lines(read_text(args.file), now)  # all valid before anything is written
    try:
        counts = await ClaimStore(await ctx.sessions()).import_claims(
            claims, now, actor(args, file_reason(args.file))
        )
    except UnknownPartner as err:
        raise not_found(f"{err} (import the partner first; nothing was imported)") from None
    if args.json:
        print_json(counts)
    else:
        say(
            f"{counts.claims} claim(s): {counts.created} created, {counts.updated} updated, "
            f"{counts.unchanged} unchanged"
        )
    return 0


async def list_claims(ctx: Context, args: argparse.Namespace) -> int:
    store = ClaimStore(await ctx.sessions())
    rows = await store.list(args.tenant, args.partner, include_revoked=args.all)
    if args.json:
        print_json([claim_json(c) for c in rows])
        return 0
    if not rows:
        say("no claims match (import some: starter.py partners claims import FILE.jsonl)")
        return 0
    headers = ("tenant", "partner", "workloads", "claimed", "source", "by", "revoked")
    say(
        table(
            headers,
            [
                (
                    c.tenant_id,
                    c.mpn_id,
                    ",".join(c.workloads),
                    when(c.claimed_at),
                    c.source if c.referral_id is None else f"{c.source} ({c.referral_id})",
                    c.recorded_by,
                    when(c.revoked_at),
                )
                for c in rows
            ],
        )
    )
    return 0


async def revoke_claim(ctx: Context, args: argparse.Namespace) -> int:
    store = ClaimStore(await ctx.sessions())
    try:
        claim = await store.revoke(args.tenant, args.partner, ctx.now(), actor(args))
    except UnknownClaim as err:
        raise not_found(str(err)) from None
    if args.json:
        print_json(claim_json(claim))
    else:
        say(f"claim of {claim.mpn_id} on {claim.tenant_id} revoked ({', '.join(claim.workloads)})")
    return 0
