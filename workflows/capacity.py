"""The one "partner at capacity" decline a partner is granted: decided when the partner
declines, from the directory's live count, and claimed atomically there (workflow code)."""

from dataclasses import replace

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.directory import DirectoryActivities
    from domain.models import Action, CapacityGrant, PartnerAction, ReferralState
    from domain.policy import ANSWER_CAPACITY_AGAIN, Code, Refusal, check_partner_action

# workflow code the worker passes through the sandbox (worker.PASSED_THROUGH)
from workflows.publisher import DB_RETRY, DB_TIMEOUT


async def claim_capacity_decline(state: ReferralState, action: PartnerAction) -> Refusal | None:
    """None when this decline gets the partner's grant; otherwise the program's answer."""
    a = state.current
    assert a is not None
    grant = CapacityGrant(action.partner, state.workflow_id, a.seq)
    if not await _grant(grant):
        return Refusal(Code.REASON_REFUSED, ANSWER_CAPACITY_AGAIN)
    moved_on = check_partner_action(state, replace(action, action=Action.DECLINE))
    if moved_on is not None:  # expired or cancelled while the grant was claimed
        await _grant(replace(grant, release=True))
    return moved_on


async def _grant(grant: CapacityGrant) -> bool:
    return await workflow.execute_activity_method(
        DirectoryActivities.grant_capacity_decline,
        grant,
        start_to_close_timeout=DB_TIMEOUT,
        retry_policy=DB_RETRY,
        summary="release capacity decline" if grant.release else "claim capacity decline",
    )
