"""The partner action `account_team_contacted` on the workflow: update with validator, the
`partner_action` signal, the timeline and the milestones."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain import names
from domain.models import PartnerAction
from tests.factories import partner, referral
from tests.harness import Harness


async def test_account_team_contact_is_recorded_once_after_accepting(h: Harness) -> None:
    await h.partners(partner("1001"))
    handle = await h.start(referral("FT-T-TEAM"))
    who = await h.assigned(handle)
    with pytest.raises(WorkflowUpdateFailedError) as early:
        await h.act(handle, "account_team_contacted", who)
    assert isinstance(early.value.cause, ApplicationError)
    assert "must be accepted" in str(early.value.cause)

    await h.act(handle, "accept", who)
    result = await h.act(handle, "account_team_contacted", who, note="called the AE")
    assert result.message == "account_team_contacted recorded"
    with pytest.raises(WorkflowUpdateFailedError) as again:
        await h.act(handle, "account_team_contacted", who)
    assert "already recorded" in str(again.value.cause)

    state = await h.state(handle)
    assert state.milestones.account_team_contacted_at is not None
    entry = next(e for e in state.history if e.action == "account_team_contacted")
    assert entry.actor == f"partner:{who}" and entry.detail == "before the kick-off"


async def test_the_signal_path_applies_the_same_rule(h: Harness) -> None:
    await h.partners(partner("1001"))
    handle = await h.start(referral("FT-T-TEAM-SIG"))
    who = await h.assigned(handle)
    action = PartnerAction(partner=who, action="account_team_contacted")
    await handle.signal(names.SIGNAL_PARTNER_ACTION, action)
    refused = await h.until(
        handle, lambda s: any(e.refused and e.action == "account_team_contacted" for e in s.history)
    )
    assert refused.milestones.account_team_contacted_at is None
    await h.act(handle, "accept", who)
    await h.act(handle, "kickoff", who)
    await handle.signal(names.SIGNAL_PARTNER_ACTION, action)
    state = await h.until(handle, lambda s: s.milestones.account_team_contacted_at is not None)
    entry = next(e for e in state.history if e.action == "account_team_contacted" and not e.refused)
    assert entry.detail == "after the kick-off"
