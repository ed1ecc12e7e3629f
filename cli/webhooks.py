"""`partners webhooks add|list|remove|rotate`: partners' webhook subscriptions."""

from __future__ import annotations

import argparse
from typing import Any

from cli.actor import actor, add_actor_arguments
from cli.common import mpn_id
from cli.context import Context
from cli.errors import bad_input, not_found
from cli.output import note, print_json, say, table, when
from db.webhooks import Subscription, WebhookStore
from domain.validation import whole_number
from domain.validation.reader import show
from domain.webhooks import EVENT_TYPES, WebhookRuleError
from runtime.sealing import Sealer
from runtime.webhooks import UnknownPartnerError, subscribe

EVENTS_HELP = "comma-separated, default all: " + ", ".join(
    t.removeprefix("referral.") for t in EVENT_TYPES
)


def register(psub: Any) -> None:
    hooks = psub.add_parser("webhooks", help="signed webhook subscriptions of partners")
    wsub = hooks.add_subparsers(dest="webhooks_command", metavar="COMMAND", required=True)

    p = wsub.add_parser("add", help="subscribe an https endpoint; prints its secret, once")
    p.add_argument("mpn", type=mpn_id, metavar="MPN_ID")
    p.add_argument("url", metavar="URL", help="https:// endpoint (public address)")
    p.add_argument("--events", default="", metavar="a,b", help=EVENTS_HELP)
    add_actor_arguments(p)
    p.set_defaults(handler=add)

    p = wsub.add_parser("list", help="list subscriptions (one partner's, or all)")
    p.add_argument("mpn", type=mpn_id, nargs="?", metavar="MPN_ID")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=list_subscriptions)

    p = wsub.add_parser("remove", help="remove a subscription (nothing more is sent to it)")
    p.add_argument("id", type=sub_id, metavar="ID")
    add_actor_arguments(p)
    p.set_defaults(handler=remove)

    p = wsub.add_parser("rotate", help="new secret (printed once); enables a disabled one")
    p.add_argument("id", type=sub_id, metavar="ID")
    add_actor_arguments(p)
    p.set_defaults(handler=rotate)


def sub_id(text: str) -> int:
    number = whole_number(text)
    if not number:
        raise argparse.ArgumentTypeError(f"not a subscription id: {show(text)}")
    return number


async def _store(ctx: Context) -> WebhookStore:
    return WebhookStore(await ctx.sessions(), Sealer.for_settings(ctx.settings))


def as_json(s: Subscription) -> dict[str, Any]:
    return {
        "id": s.id,
        "mpn_id": s.mpn_id,
        "url": s.url,
        "events": s.events or list(EVENT_TYPES),
        "active": s.active,
        "created_at": s.created_at,
        "created_by": s.created_by,
        "rotated_at": s.rotated_at,
        "disabled_at": s.disabled_at,
        "disabled_reason": s.disabled_reason,
    }


async def add(ctx: Context, args: argparse.Namespace) -> int:
    store = await _store(ctx)
    try:
        sub, secret = await subscribe(
            store, ctx.settings, args.mpn, args.url, args.events, actor(args), ctx.now()
        )
    except WebhookRuleError as err:
        raise bad_input(str(err)) from None
    except UnknownPartnerError as err:
        raise not_found(str(err)) from None
    say(secret)
    note(f"subscription {sub.id} of {sub.mpn_id} to {sub.url}; its secret is shown only now")
    return 0


async def list_subscriptions(ctx: Context, args: argparse.Namespace) -> int:
    subs = await (await _store(ctx)).list(args.mpn)
    if args.json:
        print_json([as_json(s) for s in subs])
        return 0
    if not subs:
        say("no webhook subscriptions")
        return 0
    rows = [
        (
            s.id,
            s.mpn_id,
            s.url,
            ", ".join(e.removeprefix("referral.") for e in s.events) or "all",
            "active" if s.active else f"disabled {when(s.disabled_at)}",
        )
        for s in subs
    ]
    say(table(("id", "partner", "url", "events", "state"), rows))
    return 0


async def remove(ctx: Context, args: argparse.Namespace) -> int:
    sub = await (await _store(ctx)).remove(args.id, actor(args), ctx.now())
    if sub is None:
        raise not_found(f"no webhook subscription {args.id}")
    say(f"removed subscription {sub.id} of {sub.mpn_id} ({sub.url})")
    return 0


async def rotate(ctx: Context, args: argparse.Namespace) -> int:
    secret = await (await _store(ctx)).rotate(args.id, actor(args), ctx.now())
    if secret is None:
        raise not_found(f"no webhook subscription {args.id}")
    say(secret)
    return 0
