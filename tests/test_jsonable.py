"""`jsonable` gives what the plain recursive definition gives (its field-name cache aside)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any

from domain.jsonable import jsonable
from domain.models import Status
from tests.dbfixtures import assignment, event, snapshot


def reference(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: reference(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): reference(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [reference(v) for v in value]
    return value


class Color(Enum):
    RED = "red"


@dataclasses.dataclass
class Odd:
    when: date
    span: timedelta
    keys: dict[Any, Any]
    tags: frozenset[str]
    kind: type
    color: Color
    nested: list[Any]


def test_matches_the_reference_definition() -> None:
    snap = snapshot(
        "FT-J",
        status=Status.ACTIVE,
        assignments=[assignment(1, "100"), assignment(2, "200", "declined")],
        history=[event(i, "x") for i in range(3)],
    )
    odd = Odd(
        when=date(2026, 12, 1),
        span=timedelta(hours=1, seconds=1),
        keys={1: datetime(2026, 1, 1, tzinfo=UTC), "a": (1, 2.5, None, True)},
        tags=frozenset({"t"}),
        kind=Odd,
        color=Color.RED,
        nested=[snap.referral, {"x": [odd_leaf()]}],
    )
    for value in (snap, snap.state, odd, [odd, "s", 3], None, Status.PENDING):
        assert jsonable(value) == reference(value)
        assert jsonable(value) == reference(value)  # again, with the names cached


def odd_leaf() -> Any:
    return assignment(3, "300")
