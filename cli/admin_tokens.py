"""`admin tokens create|list|revoke`: operators' named tokens for the portal's admin API."""

from __future__ import annotations

import argparse
from typing import Any

from cli.context import Context
from cli.errors import bad_input, not_found
from cli.output import Column, print_json, print_table, say, when
from db.admin_tokens import AdminTokenError, AdminTokenStore


def register(commands: Any) -> None:
    tokens = commands.add_parser(
        "tokens",
        help="operators' named tokens for the portal's admin API",
        description="Each operator (or system) gets its own token; what a token does is "
        "recorded under its name.",
    )
    actions = tokens.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)
    p = actions.add_parser("create", help="print a new token for NAME (alone on stdout)")
    p.add_argument("name", help="who uses it, e.g. alice or ops-bot")
    p.set_defaults(handler=create)
    p = actions.add_parser("list", help="every token's name, creation and revocation")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=list_tokens)
    p = actions.add_parser("revoke", help="revoke NAME's active token")
    p.add_argument("name")
    p.set_defaults(handler=revoke)


async def create(ctx: Context, args: argparse.Namespace) -> int:
    try:
        say(await AdminTokenStore(await ctx.sessions()).create(args.name, ctx.now()))
    except AdminTokenError as err:
        raise bad_input(str(err)) from None
    return 0


async def list_tokens(ctx: Context, args: argparse.Namespace) -> int:
    tokens = await AdminTokenStore(await ctx.sessions()).list()
    if args.json:
        print_json(tokens)
        return 0
    columns = [Column("NAME", keep=True), Column("CREATED", keep=True), Column("REVOKED")]
    print_table(columns, [(t.name, when(t.created_at), when(t.revoked_at)) for t in tokens])
    return 0


async def revoke(ctx: Context, args: argparse.Namespace) -> int:
    try:
        count = await AdminTokenStore(await ctx.sessions()).revoke(args.name, ctx.now())
    except AdminTokenError as err:
        raise bad_input(str(err)) from None
    if count == 0:
        raise not_found(f"no active token named {args.name!r}")
    say(f"revoked the token of {args.name.strip().lower()}")
    return 0
