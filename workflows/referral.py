"""The life of one referral (or one split part of it) as a durable workflow, with every update,
signal and query partners and operators use on it. Over 400 lines on purpose: the lifecycle
and its handlers are one class, as Temporal's samples write a workflow.

match → notify → wait for the partner's answer on a business-day SLA timer (started when the
notification is delivered) → accepted: follow the engagement until it is closed; declined or
silent: exclude that partner and match again; nobody left: escalate to operations and wait for
retry or cancel. `domain.policy` decides what partners and operators may do; `domain.transitions`
is the only code that changes the referral's state; side effects go through
`workflows.publisher`.
"""

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, ChildWorkflowError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.directory import DirectoryActivities
    from activities.matching import MatchingActivities
    from domain import names
    from domain import transitions as t
    from domain.deadlines import compute_deadline
    from domain.models import (
        Action,
        ActionResult,
        Assignment,
        CapacityGrant,
        CporClaim,
        Deadline,
        EmailRequest,
        MatchRequest,
        MatchResult,
        NotificationSent,
        OperatorAction,
        Outcome,
        PartnerAction,
        PartnerContact,
        PartRef,
        Reason,
        ReferralInput,
        ReferralState,
        ReferralSummary,
        SlaTerms,
        Status,
    )
    from domain.policy import (
        ANSWER_CAPACITY_AGAIN,
        Code,
        Refusal,
        check_operator_action,
        check_partner_action,
    )
    from domain.reminders import reminder_at
    from workflows.activity_options import DB_RETRY, DB_TIMEOUT, MAIL_GIVE_UP, MAIL_RETRY

# workflow code: re-imported into each workflow's sandbox
from workflows import metrics
from workflows.publisher import Publisher


@workflow.defn(name=names.WORKFLOW_REFERRAL)
class ReferralWorkflow:
    @workflow.init
    def __init__(self, inp: ReferralInput) -> None:
        self._referral = inp.referral
        self._state = t.new_state(inp, workflow.info().workflow_id, workflow.now())
        self._scope = self._state.workloads
        self._excluded = list(inp.excluded)
        self._partner: PartnerContact | None = None
        self._terms = SlaTerms()
        self._escalations = 0
        self._following: list[asyncio.Task[None]] = []  # split: each part's result
        self._out = Publisher(inp.referral, self._state)
        # held by the handlers that await activities (a capacity decline claims its grant)
        self._answering = asyncio.Lock()

    @workflow.run
    async def run(self, inp: ReferralInput) -> ReferralSummary:
        kind, scope = self._referral.type, ", ".join(self._scope)
        self._log(t.SYSTEM, "created", f"{kind} referral for {scope}", type=kind, workloads=scope)
        while not self._closed():
            if self._state.status == Status.ESCALATED:
                await self._wait(lambda: self._state.status != Status.ESCALATED)
                continue
            result = await self._match()
            if self._closed():
                self._release(result)
            elif result.partner is not None:
                await self._assignment(result.partner, result)
            elif result.split:  # a part splits too, into parts of its own
                await self._split(result.split)
            else:
                await self._escalate(result)
        if not workflow.all_handlers_finished():
            await workflow.wait_condition(workflow.all_handlers_finished)  # answer them first
        self._waiting("")
        await self._out.publish()
        await self._out.drain()
        if self._out.pending():
            await self._out.publish()
        return t.summary(self._state, workflow.now())

    # ------------------------------------------------- partner actions (updates)
    # A validator refuses at once and writes nothing to history. Handlers that await an
    # activity hold `_answering` and check the policy again after each wait; the others run
    # whole between two awaits.

    @workflow.update
    def accept(self, action: PartnerAction) -> ActionResult:
        return self._apply(Action.ACCEPT, action)

    @accept.validator
    def _accept_ok(self, action: PartnerAction) -> None:
        self._validate(Action.ACCEPT, action)

    @workflow.update
    async def decline(self, action: PartnerAction) -> ActionResult:
        async with self._answering:
            self._validate(Action.DECLINE, action)  # again: it may have waited for the lock
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
        async with self._answering:
            refusal = self._check(action)
            capacity = (
                action.action == Action.DECLINE and action.reason == Reason.PARTNER_AT_CAPACITY
            )
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

    # ----------------------------------------------------------- operator actions

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

    @workflow.signal(name=names.SIGNAL_OPERATOR_ACTION)
    def operator_action(self, op: OperatorAction) -> None:
        refusal = check_operator_action(self._state, op.action, op.reason)
        if refusal is None:
            self._operate(op)
        elif not (op.action == Action.CANCEL and self._closed()):
            self._log(op.operator, op.action, refusal.message, refused=True)

    # ---------------------------------------------------------- split parts, query

    @workflow.signal(name=names.SIGNAL_PART_CHANGED)
    def part_changed(self, part: PartRef) -> None:
        t.part_changed(self._state, part, workflow.now())
        if self._state.status == Status.SPLIT:
            self._waiting_for_parts()

    @workflow.query(name=names.QUERY_DETAILS)
    def details(self) -> ReferralState:
        return self._state

    # ------------------------------------------------------------ handler helpers

    def _check(self, action: PartnerAction) -> Refusal | None:
        used = self._partner.capacity_declines_used if self._partner else 0
        return check_partner_action(self._state, action, used)

    def _validate(self, name: Action, action: PartnerAction) -> None:
        _refuse(self._check(replace(action, action=name)))

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
        """The partner's one "at capacity" decline, claimed in the directory: None when this
        decline gets it; otherwise the program's answer. Granted or not, it is used now."""
        a = self._state.current
        assert a is not None
        grant = CapacityGrant(action.partner, self._state.workflow_id, a.seq)
        partner = self._partner  # the one declining: the SLA may assign the next meanwhile
        granted = await self._grant(grant)
        if partner is not None:
            partner.capacity_declines_used = 1
        if not granted:
            return Refusal(Code.REASON_REFUSED, ANSWER_CAPACITY_AGAIN)
        moved_on = check_partner_action(self._state, replace(action, action=Action.DECLINE))
        if moved_on is not None:  # expired, completed or cancelled while it was claimed
            await self._grant(replace(grant, release=True))
        return moved_on

    async def _grant(self, grant: CapacityGrant) -> bool:
        return await workflow.execute_activity_method(
            DirectoryActivities.grant_capacity_decline,
            grant,
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
            summary="release capacity decline" if grant.release else "claim capacity decline",
        )

    def _operate(self, op: OperatorAction) -> ActionResult:
        return t.apply_operator_action(self._state, op, workflow.now())

    def _validate_operator(self, name: Action, op: OperatorAction) -> None:
        _refuse(check_operator_action(self._state, name, op.reason))

    # ------------------------------------------------------------- matching

    async def _match(self) -> MatchResult:
        self._waiting("matching the referral to a partner")
        if self._state.assignments and self._out.pending():
            await self._out.publish()  # the directory's load counts see the last outcome first
        request = MatchRequest(
            referral=self._referral,
            scope_id=self._state.workflow_id,
            workloads=self._scope,
            attempt=len(self._state.assignments) + 1,
            excluded=list(self._excluded),
            as_of=workflow.now(),
        )
        # local, like the publish: the reservation is idempotent per (scope, attempt)
        return await workflow.execute_local_activity_method(
            MatchingActivities.match_partner,
            request,
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
            summary=f"match attempt {request.attempt}",
        )

    def _release(self, result: MatchResult) -> None:
        """Cancelled while matching: give back the partner the match reserved."""
        if result.partner is not None:
            t.release(self._state, result.partner, result.explanation, workflow.now())

    async def _escalate(self, result: MatchResult) -> None:
        why = t.escalate(self._state, result.explanation, workflow.now())
        metrics.escalated(self._referral.type)
        self._escalations += 1
        self._waiting("escalated: waiting for operations to retry or cancel")
        detail = {"why": why, **t.escalation_values(result.explanation)}  # worded by the email
        self._send("escalation", None, detail, seq=self._escalations)
        await self._out.publish()

    # ----------------------------------------------------------- assignment

    async def _assignment(self, partner: PartnerContact, result: MatchResult) -> None:
        a = t.assign(self._state, partner, result.explanation, workflow.now())
        self._partner, self._terms = partner, result.terms
        metrics.assigned(self._referral.type)
        due = await self._notify(a, partner)
        if self._closed() and a.outcome != Outcome.COMPLETED:
            return
        answered = await self._wait_with_reminder(
            lambda: a.outcome != Outcome.PENDING or self._closed(),
            a.notified_at or a.assigned_at,
            due.due_at,
            "reminder",
            "SLA: accept or decline",
        )
        if self._closed() and a.outcome != Outcome.COMPLETED:
            return  # cancelled; a completion (accepted and completed at once) is told below
        if not answered:
            t.expire(self._state, a, workflow.now())
            metrics.expired(self._referral.type)
            self._excluded.append(a.partner)
            self._send("expired", a, {})
            self._send("team_reassigned", a, {"reason": Outcome.EXPIRED})
        elif a.outcome == Outcome.DECLINED:
            self._after_decline(a)
        else:
            await self._engagement(a, partner)

    async def _notify(self, a: Assignment, partner: PartnerContact) -> Deadline:
        """Email the partner; its answer is due SLA business days after delivery. The
        notification and the account team's copy are rendered when the clock starts and
        state the deadline in force: while the mail server is away, each new attempt starts
        the clock again and states its own deadline. A partner that answers meanwhile (in
        the portal) is not asked again, and no clock starts."""
        due = self._start_clock(a, partner)
        sent = await self._send_notification(a, due, None)
        if sent.status != "retry":
            return due  # delivered (or undeliverable, and operations are told)
        t.notification_delayed(self._state, a, workflow.now(), sent.error)
        self._waiting(f"notifying {partner.mpn_id}: the answer clock starts on delivery")
        pause, waited, started = MAIL_RETRY.initial_interval, timedelta(0), workflow.now()

        def answered() -> bool:
            return a.outcome != Outcome.PENDING or self._closed()

        while sent.status == "retry" and waited < MAIL_GIVE_UP:
            if await self._wait(answered, workflow.now() + pause, "mail server away: notify again"):
                return due
            waited += pause
            pause = min(pause * 2, MAIL_RETRY.maximum_interval or pause)
            started = workflow.now()
            due = self._deadline(started, partner)
            sent = await self._send_notification(a, due, sent)
        if sent.status == "retry":
            await self._out.report_failure(sent.request, sent.gave_up(MAIL_GIVE_UP))
        return self._start_clock(a, partner, started, due)

    async def _send_notification(
        self, a: Assignment, due: Deadline, before: NotificationSent | None
    ) -> NotificationSent:
        """Send the notification and the team's copy stating `due`; the copy again only when
        it was not delivered before. Returns the notification's first result."""
        detail = {"due_local": due.local_text}
        notification = self._send("notification", a, detail)
        notification.due_at = due.due_at
        team = before.team if before is not None and not before.team_retry else None
        if team is None:
            team = self._send("team_assigned", a, detail)
            team.due_at = due.due_at
        published = await self._out.publish()
        result = next(r for q, r in published if q is notification)
        team_result = next((r for q, r in published if q is team), None)
        team_retry = team_result is not None and team_result.status == "retry"
        if result.status != "retry" and team_retry:
            self._out.deliver_later(team)  # the copy states the deadline now in force
        return NotificationSent(notification, result, team, team_retry)

    def _start_clock(
        self,
        a: Assignment,
        partner: PartnerContact,
        started: datetime | None = None,
        due: Deadline | None = None,
    ) -> Deadline:
        """The answer clock runs from `started` (now) to `due` (SLA business days later)."""
        started = started or workflow.now()
        due = due or self._deadline(started, partner)
        t.notified(a, started, due.due_at)
        detail = f"{partner.mpn_id} notified, answer due {due.local_text}"
        self._log(t.SYSTEM, "notified", detail, partner=partner.mpn_id, due=due.due_at.isoformat())
        self._waiting(f"waiting for {partner.mpn_id} to accept or decline, due {due.local_text}")
        return due

    async def _engagement(self, a: Assignment, partner: PartnerContact) -> None:
        self._send("team_accepted", a, {})
        if a.outcome != Outcome.ACCEPTED or a.accepted_at is None:
            self._finish(a)  # completed or declined again before this ran
            return
        due = self._deadline(a.accepted_at, partner)
        t.contact_due(self._state, due.due_at)
        m = self._state.milestones
        self._waiting(f"waiting for {partner.mpn_id} to contact the customer, due {due.local_text}")

        def ended() -> bool:
            return a.outcome != Outcome.ACCEPTED or self._closed()

        contacted = await self._wait_with_reminder(
            lambda: ended() or m.contacted_at is not None,
            a.accepted_at,
            due.due_at,
            "contact_reminder",
            "customer contact deadline",
        )
        if not contacted and not ended():
            t.contact_overdue(self._state, partner.mpn_id, workflow.now())
            reminded = self._reminder_at(a.accepted_at, due.due_at) is not None
            detail = {"due_local": due.local_text, "reminded": "yes" if reminded else "no"}
            self._send("contact_overdue", a, detail).due_at = due.due_at
        if not ended():
            overdue = " (customer contact overdue)" if m.contact_overdue else ""
            self._waiting(
                f"engagement active with {partner.mpn_id}{overdue}: waiting for completion"
            )
            await self._wait(ended)
        self._finish(a)

    def _finish(self, a: Assignment) -> None:
        if a.outcome == Outcome.DECLINED:
            self._after_decline(a)
        elif a.outcome == Outcome.COMPLETED and self._state.completion is not None:
            c = self._state.completion
            value = "" if c.vas_value is None else f"{c.vas_value:.2f}"  # formatted per locale
            detail = {"vas_sold": "yes" if c.vas_sold else "no", "vas_value": value}
            self._send("team_completed", a, detail | {"notes": c.notes})

    def _after_decline(self, a: Assignment) -> None:
        self._excluded.append(a.partner)
        self._send("decline_ack", a, {"reason": a.reason, "note": a.note})
        self._send("team_reassigned", a, {"reason": a.reason})  # a decline reason code

    def _deadline(self, start: datetime, partner: PartnerContact) -> Deadline:
        return compute_deadline(start, partner.country, partner.timezone, self._terms)

    # ---------------------------------------------------------------- split

    async def _split(self, plan: list[list[str]]) -> None:
        s = self._state
        t.split(s, plan, workflow.now())
        for number, workloads in enumerate(plan, start=1):
            wid = names.part_workflow_id(s.workflow_id, number)
            t.add_part(s, PartRef(workflow_id=wid, workloads=workloads, status=""))
            child = await workflow.start_child_workflow(
                ReferralWorkflow.run,
                ReferralInput(self._referral, s.workflow_id, workloads, list(self._excluded)),
                id=wid,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                static_summary=f"part {number} of {s.referral_id}: {', '.join(workloads)}",
            )
            self._following.append(asyncio.create_task(self._follow_part(child)))
        self._waiting_for_parts()
        await self._wait(lambda: self._closed() or t.parts_settled(s))
        if s.status == Status.CANCELLED:
            cancel = OperatorAction(Action.CANCEL, s.cancel_reason, "parent")
            for part in s.parts:
                if part.status not in Status.CLOSED:
                    await self._cancel_part(part.workflow_id, cancel)
        else:
            t.close_split(s, workflow.now())

    async def _cancel_part(self, part_id: str, cancel: OperatorAction) -> None:
        try:
            await workflow.get_external_workflow_handle(part_id).signal(
                names.SIGNAL_OPERATOR_ACTION, cancel
            )
        except FailureError as err:  # it closed meanwhile (or was terminated): nothing to do
            self._log(t.SYSTEM, "part_failed", f"{part_id}: not cancelled: {err}")

    async def _follow_part(self, part: workflow.ChildWorkflowHandle[Any, ReferralSummary]) -> None:
        """The part's own result settles it, even if its last `part_changed` never arrives."""
        try:
            result = await part
        except ChildWorkflowError as err:
            t.part_lost(self._state, part.id, str(err.cause or err), workflow.now())
        else:
            t.part_ended(self._state, part.id, result, workflow.now())
        if self._state.status == Status.SPLIT:
            self._waiting_for_parts()

    def _waiting_for_parts(self) -> None:
        parts = ", ".join(f"{p.workflow_id} {p.status or 'starting'}" for p in self._state.parts)
        self._waiting(f"split: waiting for every part to be completed or cancelled ({parts})")

    # -------------------------------------------------------------- waiting

    async def _wait_with_reminder(
        self, done: Callable[[], bool], start: datetime, due: datetime, kind: str, label: str
    ) -> bool:
        """Wait for `done` until `due`; remind the partner once, at `_reminder_at`."""
        remind = self._reminder_at(start, due)
        if remind is not None:
            if await self._wait(done, remind, f"{label}: reminder"):
                return True
            a = self._state.assignments[-1]
            self._send(kind, a, {}).due_at = due  # the deadline this reminder is about
            detail = f"{kind.replace('_', ' ')} sent to {a.partner}"
            self._log(t.SYSTEM, "reminded", detail, kind=kind, partner=a.partner)
        return await self._wait(done, due, label)

    def _reminder_at(self, start: datetime, due: datetime) -> datetime | None:
        """When the partner is reminded of a window from `start` to `due`: `domain.reminders`
        (the start of its last business day before `due`; none in a shorter window)."""
        partner = self._partner
        return reminder_at(start, due, partner.country, partner.timezone) if partner else None

    async def _wait(
        self, done: Callable[[], bool], until: datetime | None = None, label: str = ""
    ) -> bool:
        """True once `done()`, False when `until` passes first; publishes changes meanwhile."""
        while not done():
            if self._out.pending():
                await self._out.publish()
                continue
            timeout = None if until is None else until - workflow.now()
            if timeout is not None and timeout <= timedelta(0):
                return False
            try:
                await workflow.wait_condition(
                    lambda: done() or self._out.pending(),
                    timeout=timeout,
                    timeout_summary=label or None,
                )
            except TimeoutError:
                return done()
        return True

    # -------------------------------------------------------------- helpers

    def _waiting(self, text: str) -> None:
        """What the referral waits for: in its state, and as the workflow's current details."""
        t.waiting(self._state, text)
        workflow.set_current_details(text or self._state.status)

    def _closed(self) -> bool:
        return self._state.status in Status.CLOSED

    def _log(
        self, actor: str, action: str, detail: str, refused: bool = False, **params: str
    ) -> None:
        t.log(self._state, workflow.now(), actor, action, detail, refused, **params)

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


def _refuse(refusal: Refusal | None) -> None:
    """A refused action: the caller gets the program's answer."""
    if refusal is not None:
        raise ApplicationError(refusal.message, type=refusal.code, non_retryable=True)
