"""`partners import|list|pause|resume|token`: the partner directory and API tokens."""

from __future__ import annotations

import argparse
from typing import Any

from cli import audit, claims
from cli.actor import actor, add_actor_arguments, file_reason
from cli.common import iso_date, mpn_id, read_text
from cli.context import Context
from cli.errors import bad_input, not_found
from cli.output import print_json, say, table, when
from db.directory import PartnerDirectory, PartnerRecord, UnknownPartner
from db.tokens import TokenStore
from domain.validation import load_partners, partner_to_json


def register(sub: Any) -> None:
    partners = sub.add_parser("partners", help="the partner directory")
    psub = partners.add_subparsers(dest="partners_command", metavar="COMMAND", required=True)

    p = psub.add_parser("import", help="create or update partner profiles from a JSON file")
    p.add_argument("file", metavar="FILE.json", help="one profile or a list ('-': stdin)")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    add_actor_arguments(p)
    p.set_defaults(handler=import_partners)

    p = psub.add_parser("list", help="list partner profiles")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=list_partners)

    p = psub.add_parser("pause", help="pause new referrals up to and including a date")
    p.add_argument("mpn", type=mpn_id, metavar="MPN_ID")
    p.add_argument("--until", type=iso_date, required=True, metavar="YYYY-MM-DD")
    p.add_argument("--json", action="store_true", help="print the profile as JSON")
    add_actor_arguments(p)
    p.set_defaults(handler=pause)

    p = psub.add_parser("resume", help="receive referrals again")
    p.add_argument("mpn", type=mpn_id, metavar="MPN_ID")
    p.add_argument("--json", action="store_true", help="print the profile as JSON")
    add_actor_arguments(p)
    p.set_defaults(handler=resume)

    p = psub.add_parser("token", help="print a new portal API token (alone on stdout)")
    p.add_argument("mpn", type=mpn_id, metavar="MPN_ID")
    p.add_argument("--revoke", action="store_true", help="revoke every active token instead")
    add_actor_arguments(p)
    p.set_defaults(handler=token)

    claims.register(psub)
    audit.register(psub)


def record_json(r: PartnerRecord) -> dict[str, Any]:
    data = partner_to_json(r.profile)
    data.update(
        open_assignments=r.open_assignments,
        last_assigned_at=r.last_assigned_at.isoformat() if r.last_assigned_at else None,
        capacity_declines=r.capacity_declines,
        active_tokens=r.active_tokens,
    )
    return data


def _opt_in(r: PartnerRecord) -> str:
    p = r.profile
    kinds = []
    if p.referral_ready:
        kinds.append("standard")
    if p.benefit_referrals and p.fasttrack_ready:
        kinds.append("benefit")
    return ",".join(kinds) or "none"


def _seats(r: PartnerRecord) -> str:
    p = r.profile
    return f"{p.min_seats}-{p.max_seats}" if p.max_seats is not None else f"{p.min_seats}+"


async def import_partners(ctx: Context, args: argparse.Namespace) -> int:
    profiles = load_partners(read_text(args.file))  # all valid before anything is written
    directory = PartnerDirectory(await ctx.sessions())
    created, updated = await directory.upsert(
        profiles, ctx.now(), actor(args, file_reason(args.file))
    )
    unchanged = len({p.mpn_id for p in profiles}) - created - updated
    if args.json:
        print_json(
            {
                "partners": len(profiles),
                "created": created,
                "updated": updated,
                "unchanged": unchanged,
            }
        )
    else:
        say(
            f"{len(profiles)} partner(s): {created} created, {updated} updated, "
            f"{unchanged} unchanged"
        )
    return 0


async def list_partners(ctx: Context, args: argparse.Namespace) -> int:
    records = await PartnerDirectory(await ctx.sessions()).list()
    if args.json:
        print_json([record_json(r) for r in records])
        return 0
    if not records:
        say("no partners (import some: starter.py partners import FILE.json)")
        return 0
    rows = [
        (
            r.profile.mpn_id,
            r.profile.name,
            _opt_in(r),
            ",".join(r.profile.workloads),
            ",".join(r.profile.languages),
            ",".join(sorted(r.profile.countries_served() - {""})),
            _seats(r),
            r.open_assignments,
            when(r.profile.paused_until),
        )
        for r in records
    ]
    headers = (
        "mpn",
        "name",
        "opt-in",
        "workloads",
        "lang",
        "countries",
        "seats",
        "open",
        "paused until",
    )
    say(table(headers, rows))
    return 0


def _show_record(r: PartnerRecord, as_json: bool, text: str) -> None:
    if as_json:
        print_json(record_json(r))
    else:
        say(text)


async def pause(ctx: Context, args: argparse.Namespace) -> int:
    now = ctx.now()
    if args.until < now.date():
        raise bad_input(f"--until {args.until.isoformat()} is in the past")
    try:
        directory = PartnerDirectory(await ctx.sessions())
        record = await directory.pause(args.mpn, args.until, now, actor(args))
    except UnknownPartner as err:
        raise not_found(str(err)) from None
    _show_record(
        record,
        args.json,
        f"{args.mpn} paused: no new referrals up to and including {args.until.isoformat()}",
    )
    return 0


async def resume(ctx: Context, args: argparse.Namespace) -> int:
    try:
        directory = PartnerDirectory(await ctx.sessions())
        record = await directory.resume(args.mpn, ctx.now(), actor(args))
    except UnknownPartner as err:
        raise not_found(str(err)) from None
    _show_record(record, args.json, f"{args.mpn} resumed: receives referrals again")
    return 0


async def token(ctx: Context, args: argparse.Namespace) -> int:
    store = TokenStore(await ctx.sessions())
    try:
        if args.revoke:
            count = await store.revoke(args.mpn, ctx.now(), actor(args))
            say(f"revoked {count} token(s) of {args.mpn}")
        else:
            say(await store.issue(args.mpn, ctx.now(), actor(args)))
    except UnknownPartner as err:
        raise not_found(str(err)) from None
    return 0
