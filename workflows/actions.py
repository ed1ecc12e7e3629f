"""What partners and operators can do to a running referral: the workflow's updates (with
validators: a refused action is answered at once and writes nothing to history), its signals
for callers that can only signal, and its query. The lifecycle in `workflows/referral.py`
builds on this class; the rules themselves are `domain.policy` and `domain.transitions`."""

from dataclasses import replace

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import names
    from domain import transitions as t
    from domain.models import (
        Action,
        ActionResult,
        Assignment,
        CporClaim,
        EmailRequest,
        OperatorAction,
        PartnerAction,
        PartnerContact,
        Reason,
        Referral,
        ReferralState,
        Status,
    )
    from domain.policy import Refusal, check_operator_action, check_partner_action
    from workflows import metrics

# workflow code the worker passes through the sandbox (worker.PASSED_THROUGH)
from workflows.capacity import claim_capacity_decline
from workflows.publisher import Publisher


def _refuse(refusal: Refusal | None) -> None:
    """A refused update: the caller gets the program's answer, history gets nothing."""
    if refusal is not None:
        raise ApplicationError(refusal.message, type=refusal.code, non_retryable=True)


class ReferralActions:
    """Handlers over the state the lifecycle keeps (set by its `__init__`)."""

    _referral: Referral
    _state: ReferralState
    _scope: list[str]
    _partner: PartnerContact | None
    _out: Publisher

    # -------------------------------------------------------- partner actions

    def _validate(self, name: Action, action: PartnerAction) -> None:
        used = self._partner.capacity_declines_used if self._partner else 0
        _refuse(check_partner_action(self._state, replace(action, action=name), used))

    def _apply(self, name: Action, action: PartnerAction) -> ActionResult:
        result = t.apply_partner_action(self._state, name, action, workflow.now())
        if name == Action.ACCEPT:
            metrics.accepted(self._referral.type)
        elif name == Action.DECLINE:
            metrics.declined(self._referral.type, action.reason)
        elif name == Action.CPOR_CLAIMED and self._referral.customer.tenant_id:
            claim = CporClaim(
                self._referral.customer.tenant_id,
                action.partner,
                self._scope,
                self._state.workflow_id,
                workflow.now(),
            )
            self._out.record_claim(claim)
        return result

    async def _claim_capacity(self, action: PartnerAction) -> Refusal | None:
        refusal = await claim_capacity_decline(self._state, action)
        if self._partner is not None:
            self._partner.capacity_declines_used = 1  # granted or not, it is used now
        return refusal

    @workflow.update
    def accept(self, action: PartnerAction) -> ActionResult:
        return self._apply(Action.ACCEPT, action)

    @accept.validator
    def _accept_ok(self, action: PartnerAction) -> None:
        self._validate(Action.ACCEPT, action)

    @workflow.update
    async def decline(self, action: PartnerAction) -> ActionResult:
        if action.reason == Reason.PARTNER_AT_CAPACITY:
            _refuse(await self._claim_capacity(action))
        return self._apply(Action.DECLINE, action)

    @decline.validator
    def _decline_ok(self, action: PartnerAction) -> None:
        self._validate(Action.DECLINE, action)

    @workflow.update
    def contacted(self, action: PartnerAction) -> ActionResult:
        return self._apply(Action.CONTACTED, action)

    @contacted.validator
    def _contacted_ok(self, action: PartnerAction) -> None:
        self._validate(Action.CONTACTED, action)

    @workflow.update
    def kickoff(self, action: PartnerAction) -> ActionResult:
        return self._apply(Action.KICKOFF, action)

    @kickoff.validator
    def _kickoff_ok(self, action: PartnerAction) -> None:
        self._validate(Action.KICKOFF, action)

    @workflow.update
    def account_team_contacted(self, action: PartnerAction) -> ActionResult:
        return self._apply(Action.ACCOUNT_TEAM_CONTACTED, action)

    @account_team_contacted.validator
    def _account_team_contacted_ok(self, action: PartnerAction) -> None:
        self._validate(Action.ACCOUNT_TEAM_CONTACTED, action)

    @workflow.update
    def cpor_claimed(self, action: PartnerAction) -> ActionResult:
        return self._apply(Action.CPOR_CLAIMED, action)

    @cpor_claimed.validator
    def _cpor_claimed_ok(self, action: PartnerAction) -> None:
        self._validate(Action.CPOR_CLAIMED, action)

    @workflow.update
    def complete(self, action: PartnerAction) -> ActionResult:
        return self._apply(Action.COMPLETE, action)

    @complete.validator
    def _complete_ok(self, action: PartnerAction) -> None:
        self._validate(Action.COMPLETE, action)

    @workflow.signal(name=names.SIGNAL_PARTNER_ACTION)
    async def partner_action(self, action: PartnerAction) -> None:
        """For portals that can only fire signals: same rules; refusals are recorded."""
        used = self._partner.capacity_declines_used if self._partner else 0
        refusal = check_partner_action(self._state, action, used)
        capacity = action.action == Action.DECLINE and action.reason == Reason.PARTNER_AT_CAPACITY
        if refusal is None and capacity:
            refusal = await self._claim_capacity(action)
        if refusal is None:
            self._apply(Action(action.action), action)
            return
        actor = f"partner:{action.partner}"
        self._log(actor, action.action or "unknown", refusal.message, refused=True)
        current = self._state.current
        if action.action == Action.DECLINE and current and current.partner == action.partner:
            seq = len(self._state.history)  # each refusal is its own message
            self._send("decline_refused", current, {"message": refusal.message}, seq=seq)

    # ------------------------------------------------------- operator actions

    @workflow.update
    def retry(self, op: OperatorAction) -> ActionResult:
        return self._operate(replace(op, action=Action.RETRY))

    @retry.validator
    def _retry_ok(self, op: OperatorAction) -> None:
        self._validate_operator(Action.RETRY, op)

    @workflow.update
    def cancel(self, op: OperatorAction) -> ActionResult:
        return self._operate(replace(op, action=Action.CANCEL))

    @cancel.validator
    def _cancel_ok(self, op: OperatorAction) -> None:
        self._validate_operator(Action.CANCEL, op)

    def _operate(self, op: OperatorAction) -> ActionResult:
        return t.apply_operator_action(self._state, op, workflow.now())

    def _validate_operator(self, name: Action, op: OperatorAction) -> None:
        _refuse(check_operator_action(self._state, name, op.reason))

    @workflow.signal(name=names.SIGNAL_OPERATOR_ACTION)
    def operator_action(self, op: OperatorAction) -> None:
        refusal = check_operator_action(self._state, op.action, op.reason)
        if refusal is None:
            self._operate(op)
        elif not (op.action == Action.CANCEL and self._closed()):
            self._log(op.operator, op.action, refusal.message, refused=True)

    @workflow.query(name=names.QUERY_DETAILS)
    def details(self) -> ReferralState:
        return self._state

    # -------------------------------------------------------------- helpers

    def _closed(self) -> bool:
        return self._state.status in Status.CLOSED

    def _log(self, actor: str, action: str, detail: str, refused: bool = False) -> None:
        t.log(self._state, workflow.now(), actor, action, detail, refused=refused)

    def _send(
        self, kind: str, a: Assignment | None, detail: dict[str, str], seq: int | None = None
    ) -> EmailRequest:
        """Queue an email; it goes out with the next publish (the clock never waits for it)."""
        request = EmailRequest(
            kind=kind,
            referral=self._referral,
            scope_id=self._state.workflow_id,
            seq=seq if seq is not None else (a.seq if a else 0),
            workloads=self._scope,
            partner=self._partner if a else None,
            due_at=a.due_at if a else None,
            detail=detail,
        )
        self._out.queue(request)
        return request
