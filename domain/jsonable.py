"""Dataclasses, datetimes and containers as plain JSON values (datetimes ISO 8601)."""

from __future__ import annotations

import dataclasses
import weakref
from datetime import date, datetime, timedelta
from typing import Any

_SCALARS = frozenset({str, int, float, bool, type(None)})
# Field names of each dataclass met so far, None for every other type: looked up for every
# value encoded rather than asking `dataclasses.fields` each time. Keyed weakly: a workflow
# sandbox that re-imports a module creates new classes per run.
_FIELD_NAMES: weakref.WeakKeyDictionary[type, tuple[str, ...] | None] = weakref.WeakKeyDictionary()


def field_names(cls: type) -> tuple[str, ...] | None:
    """The field names of dataclass `cls` (remembered), None when `cls` is not one."""
    try:
        return _FIELD_NAMES[cls]
    except KeyError:
        is_data = dataclasses.is_dataclass(cls)
        names = tuple(f.name for f in dataclasses.fields(cls)) if is_data else None
        _FIELD_NAMES[cls] = names
        return names


def jsonable(value: Any) -> Any:
    cls = type(value)
    if cls in _SCALARS:
        return value
    names = field_names(cls)
    if names is not None:
        return {name: jsonable(getattr(value, name)) for name in names}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value
