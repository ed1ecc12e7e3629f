"""The payload converter: Temporal's default, with dataclasses encoded and decoded without
the default's per-instance overheads. The bytes and the decoded values are the same.

- Decoding: the SDK's JSON converter calls `typing.get_type_hints` for every dataclass
  instance it decodes; a referral's publication (state, history entries, assignments,
  emails) has about 25, so that was half of the decoding time (bench/README.md). Here the
  field types are resolved once per class; fields are converted with the SDK's
  `value_to_type`, unknown keys ignored, missing required fields fail at instantiation,
  `init=False` fields restored afterwards.
- Encoding: the SDK's JSON encoder turns each dataclass into a dict with
  `dataclasses.asdict`, which deep-copies every value below it (each datetime, list and
  nested dataclass) before `json` walks the copy again: 7 % of the worker's GIL time in the
  pipeline benchmark. Here a dataclass becomes a shallow dict of its fields; `json` meets the
  nested values itself and hands the ones it cannot encode back to the same `default`.
"""

from __future__ import annotations

import dataclasses
import typing
import weakref
from typing import Any

from temporalio.converter import (
    AdvancedJSONEncoder,
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


# Field names per class; None for a class that is not a dataclass.
_NAMES: weakref.WeakKeyDictionary[type, tuple[str, ...] | None] = weakref.WeakKeyDictionary()


class DataclassJSONEncoder(AdvancedJSONEncoder):
    """`AdvancedJSONEncoder` with dataclass instances encoded as shallow dicts of their
    fields (every field, as `dataclasses.asdict`), without the deep copy."""

    def default(self, o: Any) -> Any:
        cls = type(o)  # a dataclass *class* passed as a value has type `type`: not one
        try:
            names = _NAMES[cls]
        except KeyError:
            names = None
            if dataclasses.is_dataclass(cls):
                names = tuple(f.name for f in dataclasses.fields(cls))
            _NAMES[cls] = names
        if names is not None:
            return {name: getattr(o, name) for name in names}
        return super().default(o)


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
    """`DefaultPayloadConverter` with `DataclassJSONEncoder` and `DataclassTypeConverter` in
    its JSON converter."""

    def __init__(self) -> None:
        super().__init__(
            *(
                JSONPlainPayloadConverter(
                    encoder=DataclassJSONEncoder,
                    custom_type_converters=[DataclassTypeConverter()],
                )
                if isinstance(c, JSONPlainPayloadConverter)
                else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )
