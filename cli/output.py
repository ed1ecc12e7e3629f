"""Rendering: JSON for machines; for humans, rich tables fitted to the terminal with coloured
statuses, or plain aligned text when stdout is not a terminal (pipes, files, scripts)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from domain.formatting import when
from domain.jsonable import jsonable

__all__ = ["when"]  # the CLI's commands format timestamps through this module

to_jsonable = jsonable  # the CLI's name for the shared converter

# Referral statuses and assignment outcomes, coloured the same everywhere.
STATUS_STYLES = {
    "pending": "yellow",
    "active": "cyan",
    "completed": "green",
    "escalated": "bold red",
    "cancelled": "dim",
    "split": "magenta",
    "accepted": "green",
    "declined": "red",
    "expired": "red",
}

_consoles: dict[str, Console] = {}


def console() -> Console:
    """The stdout console (created on first use, so tests' redirections are honoured)."""
    if "out" not in _consoles:
        _consoles["out"] = Console(file=sys.stdout, highlight=False)
    return _consoles["out"]


def err_console() -> Console:
    if "err" not in _consoles:
        _consoles["err"] = Console(file=sys.stderr, highlight=False)
    return _consoles["err"]


def rich_output() -> bool:
    """True when stdout is a terminal (or FORCE_COLOR / TTY_COMPATIBLE=1 say to act as one)."""
    return console().is_terminal


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False) + "\n")


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def note(text: str) -> None:
    """An informational line on stderr (never on stdout, which scripts parse)."""
    sys.stderr.write(f"note: {text}\n")


def status_text(value: str) -> Text:
    """A status or outcome in its colour."""
    return Text(value, style=STATUS_STYLES.get(value, ""))


def styled_line(*parts: str | Text) -> Text:
    """One line of text; strings are literal (no rich markup is interpreted)."""
    return Text.assemble(*parts)


@dataclass(frozen=True)
class Column:
    """A table column. `keep`: never wrapped (ids, dates); `status`: coloured; `drop`: left
    out on a terminal too narrow for every column (the highest `drop` goes first)."""

    header: str
    keep: bool = False
    status: bool = False
    right: bool = False
    min_width: int = 0
    drop: int = 0


def _plain_cell(value: object) -> str:
    if isinstance(value, Text):
        value = value.plain
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    return "-" if value is None or value == "" else str(value)


def _rich_cell(value: object, column: Column) -> Text:
    if isinstance(value, Text):  # already styled by the caller
        return value
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)  # spaces let a narrow column wrap
    text = _plain_cell(value)
    if column.status:
        return status_text(text)
    return Text(text, style="dim" if text == "-" else "")


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Plain text: columns aligned with two spaces; lists joined with `,`; empty shown as `-`."""
    cells = [[_plain_cell(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))]
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(line.rstrip() for line in lines)


def rich_table(columns: Sequence[Column], rows: Sequence[Sequence[object]], width: int) -> Table:
    """A rich table laid out to fit `width`: droppable columns go first, then the widest
    wrapping columns give up width (cells wrap inside them)."""
    widths = column_widths(columns, rows, width)
    t = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    for i, w in widths.items():
        c = columns[i]
        t.add_column(
            c.header.upper(),
            no_wrap=c.keep,
            overflow="fold",
            justify="right" if c.right else "left",
            width=w,
        )
    for row in rows:
        t.add_row(*(_rich_cell(row[i], columns[i]) for i in widths))
    return t


_GAP = 3  # between two columns of a SIMPLE_HEAD table without edge padding


def column_widths(
    columns: Sequence[Column], rows: Sequence[Sequence[object]], width: int
) -> dict[int, int]:
    """Column index -> width for the columns shown in `width` characters."""
    natural = [
        max([len(c.header)] + [len(_rich_cell(row[i], c).plain) for row in rows])
        for i, c in enumerate(columns)
    ]
    mins = [
        n if c.keep else min(n, max(c.min_width, len(c.header)))
        for c, n in zip(columns, natural, strict=True)
    ]
    shown = list(range(len(columns)))
    while sum(mins[i] for i in shown) + _GAP * (len(shown) - 1) > width:
        droppable = [i for i in shown if columns[i].drop > 0]
        if not droppable:
            break
        shown.remove(max(droppable, key=lambda i: (columns[i].drop, i)))
    widths = {i: natural[i] for i in shown}
    spare = width - _GAP * (len(shown) - 1) - sum(widths.values())
    if spare >= 0:
        return widths
    flexible = [i for i in shown if natural[i] > mins[i]]
    budget = sum(natural[i] for i in flexible) + spare  # width left for the flexible columns
    for i in flexible:
        widths[i] = mins[i]
    budget -= sum(mins[i] for i in flexible)
    slack = sum(natural[i] - mins[i] for i in flexible)
    for i in flexible:  # share what is left in proportion to what each would like to have
        if budget > 0 and slack > 0:
            widths[i] += budget * (natural[i] - mins[i]) // slack
    return widths


def print_table(
    columns: Sequence[Column], rows: Iterable[Sequence[object]], indent: int = 0
) -> None:
    """A table on stdout: rich and fitted on a terminal, plain aligned text otherwise."""
    rows = list(rows)
    if rich_output():
        out = console()
        fitted = rich_table(columns, rows, out.width - indent)
        out.print(Padding(fitted, (0, 0, 0, indent), expand=False) if indent else fitted)
    else:
        text = table([c.header for c in columns], rows)
        say("\n".join(" " * indent + line for line in text.splitlines()))


def print_line(*parts: str | Text) -> None:
    """One line on stdout; coloured parts keep their colour only on a terminal."""
    if rich_output():
        console().print(styled_line(*parts), soft_wrap=False)
    else:
        say("".join(p.plain if isinstance(p, Text) else p for p in parts))


def fields(pairs: Iterable[tuple[str, object]], indent: str = "") -> str:
    """`key: value` lines with aligned values; empty values are skipped."""
    items = [(k, str(v)) for k, v in pairs if v not in (None, "", [], {})]
    if not items:
        return ""
    width = max(len(k) for k, _ in items) + 1
    return "\n".join(f"{indent}{(k + ':').ljust(width)} {v}" for k, v in items)
