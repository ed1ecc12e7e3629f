"""`partners import|list|pause|resume|token|scorecard`: the partner directory, API tokens and
scorecards."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from rich.text import Text

from cli import audit, claims, scorecard, webhooks
from cli.actor import actor, add_actor_arguments, file_reason
from cli.common import country, iso_date, mpn_id, positive, read_text
from cli.context import Context
from cli.errors import CliError, bad_input, classify, not_found
from cli.output import Column, note, print_json, print_table, say, when
from cli.progress import Tracker
from db.directory import PartnerDirectory, PartnerRecord, UnknownPartner
from db.tokens import TokenStore
from domain.models import WORKLOADS, PartnerProfile
from domain.ownership import partner_changes, program_update
from domain.pauses import PauseError, check_pause, is_paused
from domain.validation import load_partners, partner_to_json

# Profiles written per transaction by `partners import` (progress advances per batch).
IMPORT_BATCH = 250

LIST_COLUMNS = (
    Column("mpn", keep=True),
    Column("name", min_width=12),
    Column("opt-in", min_width=9, drop=1),
    Column("workloads", min_width=11),
    Column("lang", drop=4),
    Column("countries", drop=2),
    Column("seats", keep=True, drop=3),
    Column("open", keep=True, right=True),
    Column("paused", keep=True),
)


def register(sub: Any) -> None:
    partners = sub.add_parser("partners", help="the partner directory")
    psub = partners.add_subparsers(dest="partners_command", metavar="COMMAND", required=True)

    p = psub.add_parser(
        "import",
        help="create partner profiles, update the program's fields of existing ones",
        description="Create partner profiles; of an existing partner update only the fields "
        "the program owns (opt-ins, workloads, contact, home country, time zone, name, "
        "capacity): what the partner set in the portal stays. --replace overwrites everything.",
    )
    p.add_argument("file", metavar="FILE.json", help="one profile or a list ('-': stdin)")
    p.add_argument(
        "--replace",
        action="store_true",
        help="overwrite the partners' own fields too (lists what it changes first)",
    )
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    add_actor_arguments(p)
    p.set_defaults(handler=import_partners)

    p = psub.add_parser("list", help="list partner profiles")
    p.add_argument("--country", type=country, metavar="CC", help="serves this country (ISO code)")
    p.add_argument(
        "--workload",
        action="append",
        choices=WORKLOADS,
        metavar="CODE",
        help="offers this workload (repeat for several: all must match)",
    )
    paused = p.add_mutually_exclusive_group()
    paused.add_argument("--paused", action="store_true", help="only partners paused today")
    paused.add_argument("--not-paused", action="store_true", help="only partners not paused")
    p.add_argument("--limit", type=positive, metavar="N", help="at most N partners")
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
    webhooks.register(psub)
    audit.register(psub)
    scorecard.register(psub)


def record_json(r: PartnerRecord) -> dict[str, Any]:
    data = partner_to_json(r.profile)
    data.update(
        locale=r.profile.effective_locale,  # the language its emails are written in
        open_assignments=r.open_assignments,
        last_assigned_at=r.last_assigned_at.isoformat() if r.last_assigned_at else None,
        capacity_declines=r.capacity_declines,
        active_tokens=r.active_tokens,
    )
    return data


def _opt_in(r: PartnerRecord) -> list[str]:
    p = r.profile
    kinds = []
    if p.referral_ready:
        kinds.append("standard")
    if p.benefit_referrals and p.fasttrack_ready:
        kinds.append("benefit")
    return kinds or ["none"]


def _paused(r: PartnerRecord, now: datetime) -> Text | str:
    p = r.profile
    if p.paused_until is None:
        return "-"
    ongoing = is_paused(p.paused_until, p.timezone, now)
    return Text(when(p.paused_until), style="yellow" if ongoing else "dim")


def _seats(r: PartnerRecord) -> str:
    p = r.profile
    return f"{p.min_seats}-{p.max_seats}" if p.max_seats is not None else f"{p.min_seats}+"


async def import_partners(ctx: Context, args: argparse.Namespace) -> int:
    profiles = load_partners(read_text(args.file))  # all valid before anything is written
    now = ctx.now()
    directory = PartnerDirectory(await ctx.sessions())
    stored = await directory.list()
    known = {r.profile.mpn_id for r in stored}
    for profile in profiles:  # the pauses this import writes: new partners', or --replace
        writes_pause = args.replace or profile.mpn_id not in known
        if writes_pause and profile.paused_until is not None:
            try:
                check_pause(profile.paused_until, profile.timezone, now, ended_ok=True)
            except PauseError as err:
                raise bad_input(f"partner {profile.mpn_id}: paused_until: {err}") from None
    who = actor(args, file_reason(args.file))
    merge = None if args.replace else program_update
    _list_partner_changes(stored, profiles, args.replace)
    created = updated = 0
    with Tracker("importing partners", len(profiles), unit="profiles") as progress:
        for start in range(0, len(profiles), IMPORT_BATCH):
            batch = profiles[start : start + IMPORT_BATCH]
            try:
                new, changed = await directory.upsert(batch, now, who, merge)
            except Exception as err:
                if start == 0:
                    raise
                raise _partial_import(err, start, len(profiles)) from None
            created += new
            updated += changed
            progress.advance(len(batch))
    unchanged = len(profiles) - created - updated
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


def _list_partner_changes(
    stored: list[PartnerRecord], profiles: list[PartnerProfile], replace: bool
) -> None:
    """Print (to stderr) the partner-owned fields where the file differs from a stored
    partner: `--replace` is about to overwrite them; a plain import keeps the partner's."""
    before = {r.profile.mpn_id: r.profile for r in stored}
    changes = [
        f"{p.mpn_id} {field}: {_shown(old)} -> {_shown(new)}"
        for p in profiles
        if p.mpn_id in before
        for field, old, new in partner_changes(before[p.mpn_id], p)
    ]
    if replace:
        note(f"--replace overwrites {len(changes)} partner-owned field(s)")
    elif changes:
        note(
            f"kept {len(changes)} partner-owned field(s) where the file differs "
            "(the partner's own; --replace overwrites them)"
        )
    for line in changes:
        note(f"  {line}")


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "(none)"
    return "(none)" if value is None else str(value)


def _partial_import(err: Exception, written: int, total: int) -> CliError:
    failure = classify(err)
    failure.message = (
        f"{failure.message} ({written} of {total} profiles written; the import is idempotent: "
        "run it again)"
    )
    return failure


def matches(r: PartnerRecord, args: argparse.Namespace, now: datetime) -> bool:
    """Whether a partner passes `partners list`'s filters."""
    p = r.profile
    if args.country and args.country not in p.countries_served():
        return False
    if args.workload and not set(args.workload) <= set(p.workloads):
        return False
    paused = is_paused(p.paused_until, p.timezone, now)
    if args.paused and not paused:
        return False
    return not (args.not_paused and paused)


async def list_partners(ctx: Context, args: argparse.Namespace) -> int:
    now = ctx.now()
    records = [
        r for r in await PartnerDirectory(await ctx.sessions()).list() if matches(r, args, now)
    ]
    total = len(records)
    if args.limit is not None and total > args.limit:
        records = records[: args.limit]
        note(f"showing {args.limit} of {total} partners (raise --limit to see more)")
    if args.json:
        print_json([record_json(r) for r in records])
        return 0
    if not records:
        filtered = args.country or args.workload or args.paused or args.not_paused
        say(
            "no partners match"
            if filtered
            else "no partners (import some: partners import FILE.json)"
        )
        return 0
    rows = [
        (
            r.profile.mpn_id,
            r.profile.name,
            _opt_in(r),
            r.profile.workloads,
            r.profile.languages,
            sorted(r.profile.countries_served() - {""}),
            _seats(r),
            r.open_assignments,
            _paused(r, now),
        )
        for r in records
    ]
    print_table(LIST_COLUMNS, rows)
    return 0


def _show_record(r: PartnerRecord, as_json: bool, text: str) -> None:
    if as_json:
        print_json(record_json(r))
    else:
        say(text)


async def pause(ctx: Context, args: argparse.Namespace) -> int:
    now = ctx.now()
    try:
        directory = PartnerDirectory(await ctx.sessions())
        record = await directory.pause(args.mpn, args.until, now, actor(args))
    except UnknownPartner as err:
        raise not_found(str(err)) from None
    except PauseError as err:
        raise bad_input(f"--until: {err}") from None
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
