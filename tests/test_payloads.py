"""The product's payload converter decodes exactly what Temporal's default converter does."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import default

from domain.models import (
    Assignment,
    EmailRequest,
    HistoryEntry,
    Outcome,
    PartnerContact,
    Publication,
    ReferralInput,
    ReferralState,
    Snapshot,
    Status,
)
from runtime import payloads
from runtime.payloads import PayloadConverter
from tests.factories import referral

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def publication() -> Publication:
    r = referral("FT-P-1", account_team=["ae@microsoft.example"])
    state = ReferralState(
        referral_id=r.referral_id,
        workflow_id=r.referral_id,
        parent_id=None,
        type=r.type,
        workloads=list(r.workloads),
        status=Status.ACTIVE,
        customer_country="DE",
        seats=500,
        created_at=NOW,
    )
    state.history = [HistoryEntry(NOW, "system", "created", "x"), HistoryEntry(NOW, "p", "ok", "")]
    state.assignments = [
        Assignment(
            seq=1, partner="1001", partner_name="P", outcome=Outcome.ACCEPTED, assigned_at=NOW
        )
    ]
    contact = PartnerContact("1001", "P", "referrals-1001@partner.example", "Europe/Berlin", "DE")
    email = EmailRequest(
        kind="notification",
        referral=r,
        scope_id=r.referral_id,
        seq=1,
        workloads=list(r.workloads),
        partner=contact,
        due_at=NOW,
        detail={"due_local": "Wed 2 Dec 10:00"},
    )
    return Publication(snapshot=Snapshot(state=state, referral=r), emails=[email])


@pytest.mark.parametrize(
    "value",
    [publication(), ReferralInput(referral("FT-P-2"), "FT-P-1", ["teams"])],
    ids=["publication", "referral_input"],
)
def test_decodes_like_the_default_converter(value: Any) -> None:
    ours, theirs = PayloadConverter(), default().payload_converter
    payloads = theirs.to_payloads([value])
    assert ours.to_payloads([value]) == payloads
    decoded = ours.from_payloads(payloads, [type(value)])[0]
    assert decoded == theirs.from_payloads(payloads, [type(value)])[0] == value


@dataclass
class WithLate:
    a: int
    b: list[int] = field(default_factory=list)
    c: str = field(default="", init=False)


def _payload(data: dict[str, Any]) -> list[Payload]:
    return [Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(data).encode())]


def test_unknown_keys_ignored_missing_fields_fail_and_late_fields_restored() -> None:
    ours = PayloadConverter()
    got = ours.from_payloads(_payload({"a": 1, "b": [2], "c": "late", "zzz": 0}), [WithLate])[0]
    assert (got.a, got.b, got.c) == (1, [2], "late")
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'a'"):
        ours.from_payloads(_payload({"b": [2]}), [WithLate])
    with pytest.raises(TypeError, match="Failed converting field a"):
        ours.from_payloads(_payload({"a": "not a number"}), [WithLate])


class Colour(StrEnum):
    RED = "red"


@dataclass
class Inner:
    at: datetime
    tags: set[str]
    pair: tuple[int, str]


@dataclass
class Outer:
    inner: Inner
    by_key: dict[str, Inner]
    items: list[Inner | None]
    colour: Colour
    ident: uuid.UUID
    late: WithLate


def mixed() -> Outer:
    return Outer(
        inner=Inner(NOW, {"b"}, (1, "x")),
        by_key={"k": Inner(NOW, set(), (2, "y"))},
        items=[None, Inner(NOW, {"a"}, (3, "z"))],
        colour=Colour.RED,
        ident=uuid.UUID(int=7),
        late=WithLate(1),
    )


@pytest.mark.parametrize(
    "value",
    [
        publication(),
        mixed(),
        [Inner(NOW, {"c"}, (4, "w")), {"nested": [WithLate(2)]}],
    ],
    ids=["publication", "mixed", "list"],
)
def test_encodes_the_same_bytes_as_the_default_converter(value: Any) -> None:
    """Dataclasses are encoded as shallow dicts (no `dataclasses.asdict` deep copy); every
    nested value still comes out exactly as Temporal's default converter writes it."""
    ours, theirs = PayloadConverter(), default().payload_converter
    assert ours.to_payloads([value]) == theirs.to_payloads([value])


@dataclass
class Fields:
    """One field of each type the converter plans a direct conversion for."""

    text: str = ""
    number: int = 0
    ratio: float = 0.0
    flag: bool = False
    at: datetime | None = None
    anything: Any = None
    numbers: list[int] = field(default_factory=list)
    inner: Inner | None = None
    inners: list[Inner] = field(default_factory=list)


def test_decodes_mixed_dataclasses_like_the_default_converter() -> None:
    value = mixed()
    ours, theirs = PayloadConverter(), default().payload_converter
    payloads = theirs.to_payloads([value])
    assert ours.from_payloads(payloads, [Outer])[0] == theirs.from_payloads(payloads, [Outer])[0]


@pytest.mark.parametrize(
    "data",
    [
        {"text": "a", "number": 3, "ratio": 0.5, "flag": True, "at": NOW.isoformat()},
        {"number": 3.0, "ratio": 2, "anything": {"x": [1]}, "numbers": [1, True, 2.0]},
        {"at": None, "inner": None, "inners": []},
        {"inner": {"at": "2026-11-30T09:00:00Z", "tags": ["a"], "pair": [1, "x"]}},
        {"inners": [{"at": "2026-11-30T09:00:00+01:00", "tags": [], "pair": [2, "y"]}]},
    ],
)
def test_direct_field_conversions_give_the_sdks_values(data: dict[str, Any]) -> None:
    """Where a field's value is not of the exact type (an int for a float, a float for an
    int), the SDK's conversion is used, so every value equals the default converter's."""
    ours, theirs = PayloadConverter(), default().payload_converter
    got = ours.from_payloads(_payload(data), [Fields])[0]
    want = theirs.from_payloads(_payload(data), [Fields])[0]
    assert got == want
    assert [type(getattr(got, f)) for f in data] == [type(getattr(want, f)) for f in data]


@pytest.mark.parametrize(
    "data",
    [{"text": 5}, {"flag": "yes"}, {"at": "not a date"}, {"numbers": ["x"]}, {"inner": [1]}],
)
def test_direct_field_conversions_refuse_what_the_sdk_refuses(data: dict[str, Any]) -> None:
    ours, theirs = PayloadConverter(), default().payload_converter
    with pytest.raises(TypeError) as sdk:
        theirs.from_payloads(_payload(data), [Fields])
    with pytest.raises(TypeError, match=f"Failed converting field {next(iter(data))}") as err:
        ours.from_payloads(_payload(data), [Fields])
    assert str(err.value.__cause__) == str(sdk.value.__cause__)


def test_field_plans_are_shared_by_every_converter() -> None:
    """The worker makes a payload converter per workflow: a class's plan is made once."""
    PayloadConverter().from_payloads(_payload({"text": "a"}), [Fields])
    plan = payloads._PLANS[Fields]
    got = PayloadConverter().from_payloads(_payload({"text": "b"}), [Fields])[0]
    assert got.text == "b" and payloads._PLANS[Fields] is plan
