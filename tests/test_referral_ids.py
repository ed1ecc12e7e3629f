"""Referral ids may not collide with split parts' workflow ids: the `.part<N>` suffix is
reserved and refused at validation with a one-line error."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import names
from domain.validation import ValidationError, load_referrals

REFERRAL = {
    "type": "standard",
    "customer": {"name": "Fabrikam", "country": "DE", "language": "de", "seats": 300},
    "workloads": ["teams"],
}


@pytest.mark.parametrize("rid", ["FT-1.part1", "X.part12", "FT-2026-000123.part3"])
def test_ids_ending_like_a_split_part_are_refused(rid: str) -> None:
    with pytest.raises(ValidationError) as err:
        load_referrals(json.dumps({**REFERRAL, "referral_id": rid}))
    message = str(err.value)
    assert "\n" not in message
    assert message == (
        f"referral {rid}: referral_id must not end in '.part' and a number "
        f"(reserved for split parts), got '{rid}'"
    )


@pytest.mark.parametrize("rid", ["FT-1.part", "FT-1.party1", "FT-1.part1a", "part1", "FT.part1-x"])
def test_ids_merely_containing_part_are_accepted(rid: str) -> None:
    [referral] = load_referrals(json.dumps({**REFERRAL, "referral_id": rid}))
    assert referral.referral_id == rid


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,40}", fullmatch=True), st.integers(1, 99))
def test_every_part_workflow_id_is_reserved(rid: str, number: int) -> None:
    assert names.ends_like_a_part(names.part_workflow_id(rid, number))
