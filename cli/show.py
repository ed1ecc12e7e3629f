"""`referral show`: the live state from the workflow's `details` query, else the read model."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.converter import value_to_type
from temporalio.service import RPCError, RPCStatusCode

from cli.context import Context
from cli.errors import CliError, classify, not_found, one_line, unavailable
from cli.output import (
    Column,
    console,
    fields,
    print_json,
    print_table,
    rich_output,
    say,
    status_text,
    table,
    to_jsonable,
    when,
)
from db.engine import DatabaseUnavailable
from db.external_refs import ExternalRefs
from db.readmodel import ReferralReadModel
from domain import names
from domain.models import Assignment, MatchExplanation, ReferralState
from runtime.temporal import TemporalUnavailable

QUERY_TIMEOUT_S = 10.0
SOURCE_WORKFLOW = "workflow"
SOURCE_READ_MODEL = "read-model"


async def _query(ctx: Context, rid: str) -> ReferralState:
    client = await ctx.client()
    handle = client.get_workflow_handle(rid)
    return await asyncio.wait_for(
        handle.query(names.QUERY_DETAILS, result_type=ReferralState), QUERY_TIMEOUT_S
    )


async def load_state(ctx: Context, rid: str) -> tuple[ReferralState, str]:
    """The referral's state and where it came from (`workflow` or `read-model`).

    Not in Temporal (unknown, or past retention), or Temporal / the worker not answering:
    the read model's last snapshot. In neither place: exit 3 (exit 4 if a store was down)."""
    why = ""
    try:
        return await _query(ctx, rid), SOURCE_WORKFLOW
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            why = f"Temporal error: {one_line(err.message)}"
    except (TemporalUnavailable, WorkflowQueryFailedError, WorkflowQueryRejectedError) as err:
        why = one_line(str(err))
    except TimeoutError:
        why = f"the workflow did not answer within {QUERY_TIMEOUT_S:.0f}s (is the worker running?)"
    try:
        row = await ReferralReadModel(await ctx.sessions()).get(rid)
    except Exception as err:
        failure = classify(err)
        message = f"{why}; read model: {failure.message}" if why else failure.message
        raise unavailable(message) from None
    if row is None:
        if why:
            raise unavailable(f"cannot look up {rid}: {why}")
        raise not_found(f"unknown referral {rid!r}")
    if why:
        sys.stderr.write(f"note: showing the read model's last snapshot ({why})\n")
    try:
        return value_to_type(ReferralState, row.state, []), SOURCE_READ_MODEL
    except Exception as err:
        raise CliError(5, f"the read model's snapshot of {rid} is unreadable: {err}") from None


def state_json(state: ReferralState, source: str) -> dict[str, Any]:
    """The state as JSON (top-level `status` is the contract's), plus `partner` and `source`."""
    data: dict[str, Any] = to_jsonable(state)
    current = state.current
    data["partner"] = current.partner if current else None
    data["source"] = source
    return data


def _explanation(ex: MatchExplanation | None) -> str:
    if ex is None:
        return ""
    bits = [f"{ex.candidates} candidates"]
    removed = ", ".join(f"{k} -{v}" for k, v in ex.removed.items() if v)
    if removed:
        bits.append(f"removed by {removed}")
    bits.append(f"{ex.eligible} eligible")
    if ex.cpor:
        bits.append(f"cpor: {ex.cpor}")
    if ex.rank_keys:
        bits.append("rank: " + ", ".join(f"{k}={v}" for k, v in ex.rank_keys.items()))
    if ex.note:
        bits.append(ex.note)
    return "; ".join(bits)


def _assignment_lines(a: Assignment, refs: dict[str, str]) -> list[Text]:
    head = Text.assemble(f"  #{a.seq} {a.partner} {a.partner_name}: ", status_text(a.outcome))
    times = f"assigned {when(a.assigned_at)}, due {when(a.due_at)}, decided {when(a.decided_at)}"
    lines = [head, Text(f"     {times}")]
    if refs.get(a.partner):
        lines.append(Text(f"     partner's record id: {refs[a.partner]}"))
    if a.reason or a.note:
        lines.append(Text(f"     reason: {a.reason}" + (f" ({a.note})" if a.note else "")))
    explanation = _explanation(a.explanation)
    if explanation:
        lines.append(Text(f"     match: {explanation}"))
    return lines


@dataclass(frozen=True)
class _Table:
    columns: tuple[Column, ...]
    rows: Sequence[Sequence[object]]


def _blocks(s: ReferralState, source: str, refs: dict[str, str]) -> list[Text | _Table]:
    """The state as lines and tables, in display order."""
    current = s.current
    partner = ""
    if current is not None:
        partner = f"{current.partner} {current.partner_name} ({current.outcome})"
    due = current.due_at if current and current.outcome == "pending" else None
    m = s.milestones
    out: list[Text | _Table] = [
        Text.assemble((s.workflow_id, "bold"), "  ", status_text(s.status)),
        *_text_lines(
            fields(
                [
                    (
                        "type",
                        f"{s.type} · {', '.join(s.workloads)} · {s.customer_country} · "
                        f"{s.seats} seats",
                    ),
                    ("part of", s.parent_id),
                    ("partner", partner),
                    ("answer due", when(due, "")),
                    ("waiting for", s.waiting_for),
                    ("escalation", s.escalation),
                    ("cancelled", s.cancel_reason),
                    ("created", when(s.created_at)),
                    ("source", "" if source == SOURCE_WORKFLOW else "read model (last snapshot)"),
                ]
            )
        ),
    ]
    milestones = fields(
        [
            ("contact due", when(m.contact_due_at, "")),
            ("contacted", when(m.contacted_at, "")),
            ("contact overdue", "yes" if m.contact_overdue else ""),
            ("kick-off", when(m.kickoff_at, "")),
            ("CPOR claimed", when(m.cpor_claimed_at, "")),
            ("account team contacted", when(m.account_team_contacted_at, "")),
        ],
        indent="  ",
    )
    if milestones:
        out += [Text("milestones:"), *_text_lines(milestones)]
    if s.completion is not None:
        c = s.completion
        value = "" if c.vas_value is None else f"{c.vas_value:,.2f}"
        completion = fields(
            [
                ("completed", when(c.completed_at, "")),
                ("VAS sold", "yes" if c.vas_sold else "no"),
                ("VAS value", value),
                ("notes", c.notes),
            ],
            indent="  ",
        )
        out += [Text("completion:"), *_text_lines(completion)]
    if s.parts:
        rows = [(p.workflow_id, p.status, p.partner, ", ".join(p.workloads)) for p in s.parts]
        out += [Text("parts:"), _Table(PART_COLUMNS, rows)]
    if s.assignments:
        out.append(Text("assignments:"))
        for a in s.assignments:
            out += _assignment_lines(a, refs)
    if s.history:
        rows = [
            (when(h.at), h.actor, h.action + (" (refused)" if h.refused else ""), h.detail)
            for h in s.history
        ]
        out += [Text("history:"), _Table(HISTORY_COLUMNS, rows)]
    return out


PART_COLUMNS = (
    Column("part", keep=True),
    Column("status", keep=True, status=True),
    Column("partner", keep=True),
    Column("workloads"),
)
HISTORY_COLUMNS = (
    Column("at", keep=True),
    Column("actor", keep=True),
    Column("action", min_width=10),
    Column("detail", min_width=12),
)


def _text_lines(text: str) -> list[Text]:
    return [Text(line) for line in text.splitlines() if line]


def render_state(s: ReferralState, source: str, refs: dict[str, str] | None = None) -> str:
    """The state as plain text (what a pipe or a file receives); `refs`: each partner's own
    record id for the referral."""
    out: list[str] = []
    for block in _blocks(s, source, refs or {}):
        if isinstance(block, _Table):
            text = table([c.header for c in block.columns], block.rows)
            out += ["  " + line for line in text.splitlines()]
        else:
            out.append(block.plain)
    return "\n".join(out)


def print_state(s: ReferralState, source: str, refs: dict[str, str] | None = None) -> None:
    """The state on stdout: coloured and fitted on a terminal, plain text otherwise."""
    if not rich_output():
        say(render_state(s, source, refs))
        return
    for block in _blocks(s, source, refs or {}):
        if isinstance(block, _Table):
            print_table(block.columns, block.rows, indent=2)
        else:
            console().print(block)


async def show(ctx: Context, args: argparse.Namespace) -> int:
    state, source = await load_state(ctx, args.id)
    refs = await _external_refs(ctx, state.workflow_id)
    if args.json:
        print_json({**state_json(state, source), "external_refs": refs})
    else:
        print_state(state, source, refs)
    return 0


async def _external_refs(ctx: Context, workflow_id: str) -> dict[str, str]:
    """Each partner's own record id for the referral; none when the database is away (the
    state itself may come from Temporal alone)."""
    try:
        found = await ExternalRefs(await ctx.sessions()).of_referral([workflow_id])
    except (DatabaseUnavailable, SQLAlchemyError, OSError):
        return {}
    return found.get(workflow_id, {})
