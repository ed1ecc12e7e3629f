"""Rendering: JSON for machines, compact aligned tables and key/value blocks for humans."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from domain.jsonable import jsonable

to_jsonable = jsonable  # the CLI's name for the shared converter


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False) + "\n")


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def when(value: datetime | date | None, empty: str = "-") -> str:
    """A compact UTC timestamp (`2026-03-02 14:05Z`) or an ISO date."""
    if value is None:
        return empty
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.strftime("%Y-%m-%d %H:%M")
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") + "Z"
    return value.isoformat()


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Columns aligned with two spaces; cells are str()-ed, `None` shown as `-`."""
    cells = [[("-" if c is None or c == "" else str(c)) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))]
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(line.rstrip() for line in lines)


def fields(pairs: Iterable[tuple[str, object]], indent: str = "") -> str:
    """`key: value` lines with aligned values; empty values are skipped."""
    items = [(k, str(v)) for k, v in pairs if v not in (None, "", [], {})]
    if not items:
        return ""
    width = max(len(k) for k, _ in items) + 1
    return "\n".join(f"{indent}{(k + ':').ljust(width)} {v}" for k, v in items)
