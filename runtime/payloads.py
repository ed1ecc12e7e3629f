"""The payload converter: Temporal's default, with dataclasses encoded and decoded without
the default's per-instance overheads. The bytes and the decoded values are the same.

- Decoding: the SDK's JSON converter calls `typing.get_type_hints` for every dataclass
  instance it decodes, and a referral's publication holds dozens. Here the field types are
  resolved once per class, and so is each field's conversion: the common
  types directly, the rest (and any value a direct conversion refuses) with the SDK's
  `value_to_type`. Unknown keys are ignored, missing required fields fail at
  instantiation, `init=False` fields are restored afterwards.
- Encoding: the SDK's JSON encoder turns each dataclass into a dict with
  `dataclasses.asdict`, which deep-copies every value below it (each datetime, list and
  nested dataclass) before `json` walks the copy again. Here a dataclass becomes a shallow
  dict of its fields; `json` meets the nested values itself and hands the ones it cannot
  encode back to the same `default`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio.converter import (
    AdvancedJSONEncoder,
    CompositePayloadConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    JSONTypeConverter,
    value_to_type,
)

from domain.jsonable import field_names


def _fields(cls: type) -> list[tuple[str, Any, bool]]:
    """(name, type hint, init) of each field of dataclass `cls`."""
    hints = typing.get_type_hints(cls)
    return [(f.name, hints[f.name], f.init) for f in dataclasses.fields(cls)]


class DataclassJSONEncoder(AdvancedJSONEncoder):
    """`AdvancedJSONEncoder` with dataclass instances encoded as shallow dicts of their
    fields (every field, as `dataclasses.asdict`), without the deep copy."""

    def default(self, o: Any) -> Any:
        # a dataclass *class* passed as a value has type `type`: not one
        names = field_names(type(o))
        if names is not None:
            return {name: getattr(o, name) for name in names}
        return super().default(o)


Convert = Callable[[Any], Any]
_EXACT = (str, int, float, bool)

# (name, conversion, init) of each field, per class, planned once for the process: the worker
# makes a payload converter per workflow, and the converter holds no state of its own, so a
# plan made by one instance serves them all. Keyed weakly: a workflow sandbox that re-imports
# a module creates new classes per run.
_PLANS: weakref.WeakKeyDictionary[type, list[tuple[str, Convert, bool]]] = (
    weakref.WeakKeyDictionary()
)


class DataclassTypeConverter(JSONTypeConverter):
    """Decodes dataclasses like the SDK does, with a conversion per field planned once per
    class: the common field types (str, int, float, bool, datetime, Any, nested dataclasses,
    their optionals and lists) are converted directly; any other type, and any value a
    direct conversion does not accept, goes through the SDK's `value_to_type`, so results
    and errors stay the SDK's."""

    def to_typed_value(self, hint: type, value: Any) -> Any | None:
        if not isinstance(hint, type):
            return JSONTypeConverter.Unhandled
        plan = _PLANS.get(hint)
        if plan is None:
            if not dataclasses.is_dataclass(hint):
                return JSONTypeConverter.Unhandled
            plan = _PLANS[hint] = [
                (name, self._conversion(field_hint), in_init)
                for name, field_hint, in_init in _fields(hint)
            ]
        if not isinstance(value, dict):
            raise TypeError(f"Cannot convert to dataclass {hint}, value is {type(value)} not dict")
        init: dict[str, Any] = {}
        late: dict[str, Any] = {}
        for name, convert, in_init in plan:
            if name not in value:
                continue
            try:
                converted = convert(value[name])
            except Exception as err:
                raise TypeError(f"Failed converting field {name} on dataclass {hint}") from err
            (init if in_init else late)[name] = converted
        obj = hint(**init)
        for name, converted in late.items():
            object.__setattr__(obj, name, converted)
        return obj

    def _conversion(self, hint: Any) -> Convert:
        """The conversion of a value to `hint`: a direct one where it is safe, the SDK's
        `value_to_type` for the rest and for every value the direct one refuses."""

        def sdk(value: Any) -> Any:
            return value_to_type(hint, value, [self])

        direct = self._direct(hint)
        if direct is None:
            return sdk

        def convert(value: Any) -> Any:
            try:
                return direct(value)
            except Exception:
                return sdk(value)  # the SDK's answer, or its error

        return convert

    def _direct(self, hint: Any) -> Convert | None:
        if hint is Any:
            return lambda value: value
        if hint in _EXACT:

            def exact(value: Any) -> Any:
                if type(value) is not hint:
                    raise TypeError
                return value

            return exact
        if hint is datetime:
            return datetime.fromisoformat  # the SDK's parser on Python 3.11+
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return lambda value: self.to_typed_value(hint, value)
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
            inner = self._direct(args[0] if args[1] is type(None) else args[1])
            if inner is None:
                return None
            return lambda value: None if value is None else inner(value)
        if origin is list and len(args) == 1:
            item = self._direct(args[0])
            if item is None:
                return None

            def items(value: Any) -> Any:
                if type(value) is not list:
                    raise TypeError
                return [item(v) for v in value]

            return items
        return None


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
