"""`admin setup`: prepare a Temporal namespace for the workflow (its search attributes);
`admin tokens`: operators' named tokens for the portal's admin API (cli/admin_tokens.py)."""

from __future__ import annotations

import argparse
from typing import Any

from temporalio.service import RPCError, RPCStatusCode

from cli import admin_tokens
from cli.context import Context
from cli.errors import refused, unavailable
from cli.output import print_json, say
from runtime.temporal import (
    missing_search_attributes,
    register_search_attributes,
    search_attribute_command,
)
from workflows import search_attributes as sa


def register(sub: Any) -> None:
    admin = sub.add_parser(
        "admin", help="prepare the Temporal namespace; operators' tokens for the admin API"
    )
    commands = admin.add_subparsers(dest="admin_command", metavar="ACTION", required=True)
    p = commands.add_parser(
        "setup",
        help="register every search attribute the workflow uses (safe to repeat)",
        description="Register the workflow's search attributes in TEMPORAL_NAMESPACE. Where the "
        "server refuses (Temporal Cloud manages them in its console or with tcld), "
        "--print-command shows what to create.",
    )
    p.add_argument(
        "--print-command",
        action="store_true",
        help="only print the equivalent `temporal operator search-attribute create` command",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=setup)
    admin_tokens.register(commands)


async def setup(ctx: Context, args: argparse.Namespace) -> int:
    namespace = ctx.settings.temporal_namespace
    if args.print_command:
        say(search_attribute_command(namespace))
        return 0
    client = await ctx.client()
    try:
        added = await register_search_attributes(client, namespace)
    except RPCError as err:
        if err.status not in (RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNIMPLEMENTED):
            raise
        raise refused(
            f"the server does not let this client add search attributes ({err.status.name}): "
            "create them in the Temporal Cloud UI or with tcld, as listed by "
            "`admin setup --print-command`"
        ) from None
    missing = await missing_search_attributes(client, namespace)
    if missing:
        raise unavailable(
            f"search attribute {', '.join(missing)} still missing in namespace '{namespace}' "
            "(another type registered under that name?)"
        )
    if args.json:
        print_json({"namespace": namespace, "added": added, "present": [k.name for k in sa.ALL]})
        return 0
    present = len(sa.ALL) - len(added)
    say(
        f"namespace '{namespace}': {len(added)} search attribute(s) added"
        + (f" ({', '.join(added)})" if added else "")
        + f", {present} already present"
    )
    return 0
