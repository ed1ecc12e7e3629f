"""`referral create|show|list|accept|decline|contacted|kickoff|cpor-claimed|complete|
account-team-contacted|retry|cancel`: referrals as Temporal workflows."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from cli.actor import add_actor_arguments
from cli.common import amount, country, mpn_id, positive, read_text, referral_id, yes_no
from cli.context import Context
from cli.errors import BAD_INPUT, CliError, bad_input, classify, not_found, refused
from cli.listing import DEFAULT_LIMIT, list_referrals, page_token
from cli.output import note, print_json, print_line, say, status_text
from cli.progress import Tracker
from cli.show import show
from db.readmodel import ReferralReadModel
from domain.models import (
    REFERRAL_TYPES,
    ActionResult,
    OperatorAction,
    PartnerAction,
    Reason,
    Referral,
    Status,
)
from domain.policy import reason_problem
from domain.validation import load_referrals
from runtime.intake import start_referral
from workflows import search_attributes as sa

DEFAULT_CONCURRENCY = 8

# CLI spelling -> workflow update name (hyphens on the command line, as the portal's URLs).
PARTNER_COMMANDS: dict[str, str] = {
    "accept": "accept",
    "decline": "decline",
    "contacted": "contacted",
    "kickoff": "kickoff",
    "cpor-claimed": "cpor_claimed",
    "complete": "complete",
    "account-team-contacted": "account_team_contacted",
}
_HELP = {
    "accept": "accept the referral on the partner's behalf",
    "decline": "decline with a reason code",
    "contacted": "record that the partner contacted the customer",
    "kickoff": "record the engagement's kick-off",
    "cpor-claimed": "record that the partner claimed CPOR",
    "complete": "close the engagement",
    "account-team-contacted": "record that the partner contacted the Microsoft account team",
}


def register(sub: Any) -> None:
    referral = sub.add_parser("referral", help="create, inspect and act on referrals")
    rsub = referral.add_subparsers(dest="referral_command", metavar="COMMAND", required=True)

    p = rsub.add_parser("create", help="start referrals from a JSON file (one or a list)")
    p.add_argument("file", metavar="FILE.json", help="one referral or a list ('-': stdin)")
    p.add_argument(
        "--concurrency",
        type=positive,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"start at most N referrals at a time (default {DEFAULT_CONCURRENCY})",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(handler=create)

    p = rsub.add_parser("show", help="the live state of a referral (or split part)")
    p.add_argument("id", type=referral_id, metavar="REFERRAL_ID")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=show)

    p = rsub.add_parser("list", help="referrals from Temporal visibility")
    p.add_argument("--status", choices=Status.ALL)
    p.add_argument("--partner", type=mpn_id, metavar="MPN_ID", help="currently assigned partner")
    p.add_argument("--type", choices=REFERRAL_TYPES)
    p.add_argument("--country", type=country, metavar="CC", help="customer country (ISO code)")
    p.add_argument(
        "--overdue",
        action="store_true",
        help="open referrals past their answer deadline or with customer contact overdue",
    )
    p.add_argument(
        "--stuck",
        action="store_true",
        help="referrals waiting longer than the longest deadline of what they wait on "
        "(from the database; each row says why)",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--limit",
        type=positive,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"at most N rows (default {DEFAULT_LIMIT})",
    )
    size.add_argument("--all", action="store_true", help="every matching referral, no limit")
    p.add_argument(
        "--after",
        type=page_token,
        metavar="TOKEN",
        help="continue a cut list where it stopped (the token is in the note on stderr)",
    )
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="machine-readable output")
    form.add_argument(
        "--csv",
        action="store_true",
        help="CSV for spreadsheets on stdout (UTF-8 with BOM, ISO dates, a header row)",
    )
    p.set_defaults(handler=list_referrals)

    for command, update in PARTNER_COMMANDS.items():
        p = rsub.add_parser(command, help=_HELP[command])
        p.add_argument("id", type=referral_id, metavar="REFERRAL_ID")
        p.add_argument("--partner", type=mpn_id, required=True, metavar="MPN_ID")
        if update == "decline":
            p.add_argument("--reason", required=True, metavar="CODE", help=", ".join(Reason.ALL))
            p.add_argument("--note", default="", help="required with --reason other")
        elif update == "complete":
            p.add_argument("--vas-sold", type=yes_no, required=True, metavar="yes|no")
            p.add_argument("--vas-value", type=amount, metavar="AMOUNT")
            p.add_argument("--notes", default="", help="notes for the Microsoft team")
        else:
            p.add_argument("--note", default="", help="optional note for the history")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.set_defaults(handler=partner_action, update=update)

    p = rsub.add_parser("retry", help="match an escalated referral again")
    p.add_argument("id", type=referral_id, metavar="REFERRAL_ID")
    p.add_argument("--reason", default="", help="why (for the history)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_actor_arguments(p, reason=False)
    p.set_defaults(handler=operator_action, update="retry")

    p = rsub.add_parser("cancel", help="cancel a referral (operations)")
    p.add_argument("id", type=referral_id, metavar="REFERRAL_ID")
    p.add_argument("--reason", required=True, help="why (recorded)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_actor_arguments(p, reason=False)
    p.set_defaults(handler=operator_action, update="cancel")


# ---------------------------------------------------------------------------------- create


async def create(ctx: Context, args: argparse.Namespace) -> int:
    referrals = load_referrals(read_text(args.file))  # the whole file is valid, or exit 2
    unique = list({r.referral_id: r for r in referrals}.values())  # same id twice: one start
    client = await ctx.client()
    readmodel = ReferralReadModel(await ctx.sessions())
    gate = asyncio.Semaphore(args.concurrency)
    outcomes: list[bool | BaseException | None] = [None] * len(unique)
    failed = False

    async def start(i: int, referral: Referral) -> None:
        nonlocal failed
        async with gate:
            if failed:  # after a failure, nothing new is started
                return
            try:
                outcomes[i] = await start_referral(
                    client, ctx.settings.task_queue, referral, readmodel
                )
            except Exception as err:
                outcomes[i] = err
                failed = True
            progress.advance()

    with Tracker("starting referrals", len(unique), unit="referrals") as progress:
        await asyncio.gather(*(start(i, r) for i, r in enumerate(unique)))
    results = [
        {"referral_id": r.referral_id, "created": created}
        for r, created in zip(unique, outcomes, strict=True)
        if isinstance(created, bool)
    ]
    errors = [e for e in outcomes if isinstance(e, BaseException)]
    if args.json and not errors:
        print_json(results)
    elif not args.json:
        for result in results:  # stdout: the ids alone, as the contract says
            rid = str(result["referral_id"])
            say(rid)
            if not result["created"]:
                note(f"{rid}: already exists (nothing started)")
    if errors:
        failure = classify(errors[0])
        if len(unique) > 1:
            failure.message += (
                f" ({len(results)} of {len(unique)} started; starting is idempotent: "
                "run the same file again)"
            )
        raise failure
    return 0


# --------------------------------------------------------------------------------- actions


async def _closed_answer(ctx: Context, handle: WorkflowHandle[Any, Any], rid: str) -> CliError:
    """Why an update found no running workflow: unknown (exit 3) or already closed (exit 1)."""
    try:
        desc = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return not_found(f"unknown referral {rid!r}")
        raise
    status = desc.typed_search_attributes.get(sa.REFERRAL_STATUS)
    state = status or (desc.status.name.lower() if desc.status else "closed")
    return refused(f"referral {rid} is already {state}")


async def _execute(
    ctx: Context, rid: str, update: str, arg: PartnerAction | OperatorAction
) -> ActionResult:
    client = await ctx.client()
    handle = client.get_workflow_handle(rid)
    try:
        return await ctx.answered(
            handle.execute_update(update, arg, result_type=ActionResult), f"'{update}'"
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise await _closed_answer(ctx, handle, rid) from None
        raise


def _print_result(result: ActionResult, as_json: bool) -> None:
    if as_json:
        print_json(result)
    else:
        print_line(
            f"{result.referral_id}: {result.message} (status: ",
            status_text(result.status),
            ")",
        )


def _check_decline(reason: str, note: str) -> str:
    code = reason.strip().lower()
    if code not in Reason.ALL:
        raise bad_input(f"unknown decline reason {reason!r} (allowed: {', '.join(Reason.ALL)})")
    if code == Reason.OTHER and not note.strip():
        raise bad_input("--reason other needs a --note explaining why")
    return code


async def partner_action(ctx: Context, args: argparse.Namespace) -> int:
    update: str = args.update
    action = PartnerAction(partner=args.partner, action=update)
    if update == "decline":
        action.reason = _check_decline(args.reason, args.note)
        action.note = args.note.strip()
    elif update == "complete":
        if not args.vas_sold and args.vas_value:
            raise CliError(
                BAD_INPUT, "--vas-value was given but --vas-sold is no (no services sold)"
            )
        action.vas_sold = args.vas_sold
        action.vas_value = args.vas_value
        action.notes = args.notes.strip()
    else:
        action.note = args.note.strip()
    result = await _execute(ctx, args.id, update, action)
    _print_result(result, args.json)
    return 0


async def operator_action(ctx: Context, args: argparse.Namespace) -> int:
    reason = args.reason.strip()
    problem = reason_problem(args.update, reason)
    if problem is not None:
        raise bad_input(f"--reason: {problem}")
    op = OperatorAction(action=args.update, reason=reason, operator=ctx.operator(args))
    result = await _execute(ctx, args.id, args.update, op)
    _print_result(result, args.json)
    return 0
