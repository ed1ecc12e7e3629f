"""Rendering: JSON for machines, compact aligned tables and key/value blocks for humans."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any


def to_jsonable(value: Any) -> Any:
    """Dataclasses, datetimes and containers as plain JSON values (datetimes ISO 8601)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return value


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
