"""The payload converter: Temporal's default, with dataclass decoding that resolves each
dataclass's field types once instead of on every payload.

The SDK's JSON converter calls `typing.get_type_hints` for every dataclass instance it
decodes; a referral's publication (state, history entries, assignments, emails) has about 25,
so that was half of the decoding time (bench/README.md). The result is the same: fields are
converted with the SDK's `value_to_type`, unknown keys ignored, missing required fields fail
at instantiation, `init=False` fields restored afterwards.
"""

from __future__ import annotations

import dataclasses
import typing
import weakref
from typing import Any

from temporalio.converter import (
    CompositePayloadConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    JSONTypeConverter,
    value_to_type,
)

# Keyed weakly: a workflow sandbox that re-imports a module creates new classes per run.
_FIELDS: weakref.WeakKeyDictionary[type, list[tuple[str, Any, bool]]] = weakref.WeakKeyDictionary()


def _fields(cls: type) -> list[tuple[str, Any, bool]]:
    """(name, type hint, init) of each field of dataclass `cls`, resolved once."""
    found = _FIELDS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = [(f.name, hints[f.name], f.init) for f in dataclasses.fields(cls)]
        _FIELDS[cls] = found
    return found


class DataclassTypeConverter(JSONTypeConverter):
    """Decodes dataclasses like the SDK does, with the field types cached per class."""

    def to_typed_value(self, hint: type, value: Any) -> Any | None:
        if not (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
            return JSONTypeConverter.Unhandled
        if not isinstance(value, dict):
            raise TypeError(f"Cannot convert to dataclass {hint}, value is {type(value)} not dict")
        init: dict[str, Any] = {}
        late: dict[str, Any] = {}
        for name, field_hint, in_init in _fields(hint):
            if name not in value:
                continue
            try:
                converted = value_to_type(field_hint, value[name], [self])
            except Exception as err:
                raise TypeError(f"Failed converting field {name} on dataclass {hint}") from err
            (init if in_init else late)[name] = converted
        obj = hint(**init)
        for name, converted in late.items():
            object.__setattr__(obj, name, converted)
        return obj


class PayloadConverter(CompositePayloadConverter):
    """`DefaultPayloadConverter` with `DataclassTypeConverter` in its JSON converter."""

    def __init__(self) -> None:
        super().__init__(
            *(
                JSONPlainPayloadConverter(custom_type_converters=[DataclassTypeConverter()])
                if isinstance(c, JSONPlainPayloadConverter)
                else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )
