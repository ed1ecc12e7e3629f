"""The life of one referral (or one split part of it) as a durable workflow.

match → notify → wait for the partner's answer on a business-day SLA timer → accepted:
follow the engagement until it is closed; declined or silent: exclude that partner and
match again; nobody left: escalate to operations and wait for retry or cancel.

No `from __future__ import annotations` here, unlike the other modules: the sandbox
re-imports this module for every workflow it creates, and `workflow.defn` then resolves the
type hints of every handler; as strings they are evaluated again each time (0.45 ms of the
2.6 ms a new workflow cost in the sandbox, measured).
"""

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import names
    from domain.deadlines import compute_deadline
    from domain.models import (
        ActionResult,
        Assignment,
        Completion,
        Deadline,
        DeadlineRequest,
        EmailRequest,
        EmailResult,
        HistoryEntry,
        MatchRequest,
        MatchResult,
        OperatorAction,
        Outcome,
        PartnerAction,
        PartnerContact,
        PartRef,
        Publication,
        PublishResult,
        Referral,
        ReferralInput,
        ReferralState,
        ReferralSummary,
        SlaTerms,
        Snapshot,
        Status,
    )
    from domain.policy import Refusal, check_operator_action, check_partner_action
    from workflows import metrics
    from workflows import search_attributes as sa

# Database activities: retried with backoff for as long as the database is away.
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["InvalidInput"],
)
DB_TIMEOUT = timedelta(seconds=30)
# Mail: temporary SMTP failures retry with backoff; permanent ones come back as a result.
MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
MAIL_TIMEOUT = timedelta(seconds=60)
MAIL_GIVE_UP = timedelta(hours=12)

T = TypeVar("T")

PART_DONE = (Status.COMPLETED, Status.ESCALATED, Status.CANCELLED)

# Workflow changes after release, guarded so running referrals replay unchanged
# (tests/histories/*.json keep the older shapes; see README "Versioning").
PATCH_FEWER_SYNCS = "fewer-syncs-1"
# v3: deadlines computed in the workflow from the match result's SLA terms (no deadline
# activity); the read model and the emails of a change go out in one activity.
PATCH_LEAN = "lean-1"
# v4: matching and publishing run as local activities (in the worker that runs the workflow
# task, recorded as markers): no activity task round trips through the server on the path.
PATCH_LOCAL = "local-1"
# v5: a new referral records this one patch, which stands for the three above (each patch
# also upserts `TemporalChangeVersion`: two markers and two upserts fewer per referral, each
# upsert a visibility write on the server), and its search-attribute upserts carry only the
# attributes that changed since the last one (none changed: no upsert).
PATCH_ONE_MARKER = "one-marker-1"


def _refuse(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise ApplicationError(refusal.message, type=refusal.code, non_retryable=True)


@workflow.defn(name=names.WORKFLOW_REFERRAL)
class ReferralWorkflow:
    @workflow.init
    def __init__(self, inp: ReferralInput) -> None:
        r = inp.referral
        self._referral: Referral = r
        self._scope = list(inp.workloads or r.workloads)
        self._state = ReferralState(
            referral_id=r.referral_id,
            workflow_id=workflow.info().workflow_id,
            parent_id=inp.parent_id,
            type=r.type,
            workloads=self._scope,
            status=Status.PENDING,
            customer_country=r.customer.country,
            seats=r.customer.seats,
            created_at=workflow.now(),
        )
        self._excluded: list[str] = []
        self._contact: PartnerContact | None = None
        self._synced = 0
        self._published_status = ""
        self._escalations = 0
        self._mail: list[asyncio.Task[None]] = []
        self._fewer_syncs = False
        self._lean = False
        self._local = False
        self._terms: SlaTerms | None = None
        self._outgoing: list[EmailRequest] = []  # v3: emails waiting for the next publish
        self._one_marker = False
        self._upserted: dict[str, Any] = {}  # v5: search attribute values last upserted

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, inp: ReferralInput) -> ReferralSummary:
        what = ", ".join(self._scope)
        self._log("system", "created", f"{self._referral.type} referral for {what}")
        if workflow.patched(PATCH_ONE_MARKER):
            self._one_marker = self._fewer_syncs = self._lean = self._local = True
        else:  # started before v5: its own patch markers, if any
            # v2: the first record waits for the first assignment (one activity fewer).
            self._fewer_syncs = workflow.patched(PATCH_FEWER_SYNCS)
            self._lean = workflow.patched(PATCH_LEAN)
            self._local = self._lean and workflow.patched(PATCH_LOCAL)
        if not self._fewer_syncs:
            await self._sync()
        while self._state.status not in Status.CLOSED:
            if self._state.status == Status.ESCALATED:
                await self._wait(lambda: self._state.status != Status.ESCALATED, None, "")
                continue
            result = await self._match()
            if self._state.status in Status.CLOSED:
                break
            if result.partner is not None:
                await self._run_assignment(result)
            elif result.split and inp.parent_id is None:
                await self._run_split(result)
                break
            else:
                await self._escalate(result)
        if self._lean:
            self._waiting("")  # closed: waiting for nothing any more
            await self._sync()  # the final state and the last emails in one round trip
            while self._mail:
                pending, self._mail = self._mail, []
                await asyncio.gather(*pending)
            return self._summary()
        if self._mail:
            await asyncio.gather(*self._mail)
        await self._sync()
        return self._summary()

    # ------------------------------------------------------------- matching

    async def _match(self) -> MatchResult:
        self._waiting("matching the referral to a partner")
        # the directory must see the last decline/expiry before ranking
        if self._dirty() and (self._state.assignments or not self._fewer_syncs):
            await self._sync()
        request = MatchRequest(
            referral=self._referral,
            scope_id=self._state.workflow_id,
            workloads=self._scope,
            attempt=len(self._state.assignments) + 1,
            excluded=list(self._excluded),
            as_of=workflow.now(),
            allow_split=self._state.parent_id is None,
        )
        return await self._activity(
            names.ACTIVITY_MATCH,
            request,
            MatchResult,
            DB_TIMEOUT,
            f"match attempt {request.attempt}",
        )

    async def _escalate(self, result: MatchResult) -> None:
        self._escalations += 1
        ex = result.explanation
        removed = ", ".join(f"{k} {v}" for k, v in ex.removed.items() if v)
        found = f"{ex.candidates} partners considered, removed by: {removed or 'nothing'}"
        why = f"{ex.note or 'no eligible partner'} ({found})"
        self._state.status = Status.ESCALATED
        self._state.escalation = why
        self._log("system", "escalated", why)
        metrics.escalated(self._referral.type)
        self._waiting("escalated: waiting for operations to retry or cancel")
        self._send("escalation", None, {"why": why}, seq=self._escalations)
        await self._sync()

    # ----------------------------------------------------------- assignment

    async def _run_assignment(self, result: MatchResult) -> None:
        partner = result.partner
        assert partner is not None
        a = Assignment(
            seq=len(self._state.assignments) + 1,
            partner=partner.mpn_id,
            partner_name=partner.name,
            outcome=Outcome.PENDING,
            assigned_at=workflow.now(),
            explanation=result.explanation,
        )
        self._state.assignments.append(a)
        self._contact = partner
        self._state.status = Status.PENDING
        self._state.escalation = ""
        why = result.explanation.cpor or "ranked first"
        if why == "chosen":
            why = "claiming partner of record"
        self._log("system", "assigned", f"assigned to {partner.mpn_id} ({why})")
        metrics.assigned(self._referral.type)
        self._terms = result.terms
        due = await self._deadline(a.assigned_at, partner, "response deadline")
        a.due_at = due.due_at
        self._waiting(f"waiting for {partner.mpn_id} to accept or decline, due {due.local_text}")
        if not self._lean:
            await self._sync()
        self._send("notification", a, {"due_local": due.local_text})
        self._send("team_assigned", a, {"due_local": due.local_text})
        if self._lean:
            await self._sync()  # v3: recorded and both emails sent in one activity

        answered = await self._wait_with_reminder(
            lambda: a.outcome != Outcome.PENDING or self._closed(),
            a.assigned_at,
            due.due_at,
            "reminder",
            "SLA: accept or decline",
        )
        # v3: accepted and completed while the assignment was still being published: the
        # engagement's emails are still due
        completed_early = self._lean and a.outcome == Outcome.COMPLETED
        if self._closed() and not completed_early:
            return
        if not answered:
            a.outcome = Outcome.EXPIRED
            a.decided_at = workflow.now()
            a.reason = "no answer within the SLA"
            self._excluded.append(a.partner)
            self._log("sla-timer", "expired", f"{a.partner} did not answer by the deadline")
            metrics.expired(self._referral.type)
            self._send("expired", a, {})
            self._send("team_reassigned", a, {"reason": "no answer within the SLA"})
            return
        if a.outcome == Outcome.DECLINED:
            self._after_decline(a)
            return
        await self._run_engagement(a, partner)

    async def _run_engagement(self, a: Assignment, partner: PartnerContact) -> None:
        assert a.decided_at is not None
        self._send("team_accepted", a, {})
        if self._lean and a.outcome != Outcome.ACCEPTED:
            self._finish_engagement(a)  # already completed or declined again
            return
        due = await self._deadline(a.decided_at, partner, "customer contact deadline")
        m = self._state.milestones
        m.contact_due_at = due.due_at
        self._waiting(f"waiting for {partner.mpn_id} to contact the customer, due {due.local_text}")
        await self._sync()

        def ended() -> bool:
            return a.outcome != Outcome.ACCEPTED or self._closed()

        contacted = await self._wait_with_reminder(
            lambda: ended() or m.contacted_at is not None,
            a.decided_at,
            due.due_at,
            "contact_reminder",
            "customer contact deadline",
        )
        if not contacted and not ended():
            m.contact_overdue = True
            self._log("sla-timer", "contact_overdue", f"{partner.mpn_id} has not recorded contact")
            self._send("contact_overdue", a, {"due_local": due.local_text})
        if not ended():
            overdue = " (customer contact overdue)" if m.contact_overdue else ""
            self._waiting(
                f"engagement active with {partner.mpn_id}{overdue}: waiting for completion"
            )
            await self._sync()
            await self._wait(ended, None, "")
        self._finish_engagement(a)

    def _finish_engagement(self, a: Assignment) -> None:
        if a.outcome == Outcome.DECLINED:
            self._after_decline(a)
        elif a.outcome == Outcome.COMPLETED:
            c = self._state.completion
            assert c is not None
            self._send(
                "team_completed",
                a,
                {
                    "vas_sold": "yes" if c.vas_sold else "no",
                    "vas_value": "" if c.vas_value is None else f"{c.vas_value:,.2f}",
                    "notes": c.notes,
                },
            )

    def _after_decline(self, a: Assignment) -> None:
        self._excluded.append(a.partner)
        self._state.milestones = type(self._state.milestones)()
        self._send("decline_ack", a, {"reason": a.reason, "note": a.note})
        self._send("team_reassigned", a, {"reason": f"declined: {a.reason}"})

    async def _deadline(self, start: datetime, partner: PartnerContact, what: str) -> Deadline:
        if self._lean and self._terms is not None:
            return compute_deadline(start, partner.country, partner.timezone, self._terms)
        return await workflow.execute_activity(
            names.ACTIVITY_DEADLINE,
            DeadlineRequest(start=start, country=partner.country, timezone=partner.timezone),
            result_type=Deadline,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=DB_RETRY,
            summary=what,
        )

    # ---------------------------------------------------------------- split

    async def _run_split(self, result: MatchResult) -> None:
        self._state.status = Status.SPLIT
        plan = "; ".join("+".join(part) for part in result.split)
        self._log("system", "split", f"no single partner covers every workload: {plan}")
        for number, workloads in enumerate(result.split, start=1):
            wid = names.part_workflow_id(self._referral.referral_id, number)
            self._state.parts.append(PartRef(workflow_id=wid, workloads=workloads, status=""))
            await workflow.start_child_workflow(
                names.WORKFLOW_REFERRAL,
                ReferralInput(self._referral, self._state.workflow_id, workloads),
                id=wid,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                static_summary=f"part {number} of {self._referral.referral_id}: "
                + ", ".join(workloads),
            )
        self._waiting(f"split into {len(result.split)} parts: waiting for every part to finish")
        await self._sync()
        await self._wait(
            lambda: self._closed() or all(p.status in PART_DONE for p in self._state.parts),
            None,
            "",
        )
        if self._state.status == Status.CANCELLED:
            for part in self._state.parts:
                if part.status not in (Status.COMPLETED, Status.CANCELLED):
                    handle = workflow.get_external_workflow_handle(part.workflow_id)
                    await handle.signal(
                        names.SIGNAL_OPERATOR_ACTION,
                        OperatorAction("cancel", self._state.cancel_reason, "parent"),
                    )
            return
        if all(p.status == Status.COMPLETED for p in self._state.parts):
            self._state.status = Status.COMPLETED
            self._log("system", "completed", "every part is completed")
        else:
            escalated = [p.workflow_id for p in self._state.parts if p.status == Status.ESCALATED]
            self._log("system", "parts_finished", f"escalated parts: {', '.join(escalated)}")
        self._waiting("")

    @workflow.signal(name=names.SIGNAL_PART_CHANGED)
    def part_changed(self, part: PartRef) -> None:
        for p in self._state.parts:
            if p.workflow_id == part.workflow_id:
                p.status, p.partner = part.status, part.partner
                self._log("system", "part_changed", f"{p.workflow_id} is {p.status}")

    # -------------------------------------------------------------- waiting

    async def _wait_with_reminder(
        self,
        done: Callable[[], bool],
        start: datetime,
        due: datetime,
        reminder_kind: str,
        label: str,
    ) -> bool:
        """Wait for `done` until `due`; at half the window send one reminder."""
        half = start + (due - start) / 2
        if await self._wait(done, half, f"{label}: reminder"):
            return True
        assert self._state.assignments
        self._send(reminder_kind, self._state.assignments[-1], {})
        return await self._wait(done, due, label)

    async def _wait(self, done: Callable[[], bool], until: datetime | None, summary: str) -> bool:
        """Wait until `done()` (True) or `until` passes (False), recording changes meanwhile."""
        if self._outgoing:  # v3: emails queued since the last publish go out first
            await self._publish_changes(record=self._dirty())
        while not done():
            timeout: timedelta | None = None
            if until is not None:
                timeout = until - workflow.now()
                if timeout <= timedelta(0):
                    return False
            try:
                await workflow.wait_condition(
                    lambda: done() or self._dirty(),
                    timeout=timeout,
                    timeout_summary=summary or None,
                )
            except TimeoutError:
                return done()
            # v2: when the wait is over the caller records the state itself
            if self._dirty() and not (self._fewer_syncs and done()):
                await self._sync()
        return True

    # -------------------------------------------------------- partner actions

    def _capacity_declines(self) -> int:
        return self._contact.capacity_declines_used if self._contact else 0

    def _validate(self, name: str, action: PartnerAction) -> None:
        action = replace(action, action=name)
        _refuse(check_partner_action(self._state, action, self._capacity_declines()))

    def _apply(self, name: str, action: PartnerAction) -> ActionResult:
        a = self._state.current
        assert a is not None
        now = workflow.now()
        actor = f"partner:{action.partner}"
        m = self._state.milestones
        if name == "accept":
            a.outcome, a.decided_at = Outcome.ACCEPTED, now
            self._state.status = Status.ACTIVE
            self._log(actor, "accepted", "")
            metrics.accepted(self._referral.type)
        elif name == "decline":
            a.outcome, a.decided_at = Outcome.DECLINED, now
            a.reason, a.note = action.reason, action.note
            self._state.status = Status.PENDING
            self._log(
                actor, "declined", action.reason + (f": {action.note}" if action.note else "")
            )
            metrics.declined(self._referral.type, action.reason)
        elif name == "contacted":
            m.contacted_at = now
            m.contact_overdue = False
            self._log(actor, "contacted", action.note)
        elif name == "kickoff":
            m.kickoff_at = now
            self._log(actor, "kickoff", action.note)
        elif name == "cpor_claimed":
            m.cpor_claimed_at = now
            self._log(actor, "cpor_claimed", action.note)
        elif name == "complete":
            a.outcome = Outcome.COMPLETED
            self._state.completion = Completion(
                vas_sold=bool(action.vas_sold),
                vas_value=action.vas_value,
                notes=action.notes,
                completed_at=now,
            )
            self._state.status = Status.COMPLETED
            vas = "VAS sold" if action.vas_sold else "no VAS"
            self._log(actor, "completed", vas)
        return ActionResult(self._state.workflow_id, self._state.status, f"{name} recorded")

    @workflow.update
    def accept(self, action: PartnerAction) -> ActionResult:
        return self._apply("accept", action)

    @accept.validator
    def _accept_ok(self, action: PartnerAction) -> None:
        self._validate("accept", action)

    @workflow.update
    def decline(self, action: PartnerAction) -> ActionResult:
        return self._apply("decline", action)

    @decline.validator
    def _decline_ok(self, action: PartnerAction) -> None:
        self._validate("decline", action)

    @workflow.update
    def contacted(self, action: PartnerAction) -> ActionResult:
        return self._apply("contacted", action)

    @contacted.validator
    def _contacted_ok(self, action: PartnerAction) -> None:
        self._validate("contacted", action)

    @workflow.update
    def kickoff(self, action: PartnerAction) -> ActionResult:
        return self._apply("kickoff", action)

    @kickoff.validator
    def _kickoff_ok(self, action: PartnerAction) -> None:
        self._validate("kickoff", action)

    @workflow.update
    def cpor_claimed(self, action: PartnerAction) -> ActionResult:
        return self._apply("cpor_claimed", action)

    @cpor_claimed.validator
    def _cpor_claimed_ok(self, action: PartnerAction) -> None:
        self._validate("cpor_claimed", action)

    @workflow.update
    def complete(self, action: PartnerAction) -> ActionResult:
        return self._apply("complete", action)

    @complete.validator
    def _complete_ok(self, action: PartnerAction) -> None:
        self._validate("complete", action)

    @workflow.signal(name=names.SIGNAL_PARTNER_ACTION)
    def partner_action(self, action: PartnerAction) -> None:
        """For portals that can only fire signals: same rules, refusals are recorded."""
        refusal = check_partner_action(self._state, action, self._capacity_declines())
        if refusal is not None:
            self._log(
                f"partner:{action.partner}",
                action.action or "unknown",
                refusal.message,
                refused=True,
            )
            current = self._state.current
            if action.action == "decline" and current and current.partner == action.partner:
                self._send("decline_refused", current, {"message": refusal.message})
            return
        self._apply(action.action, action)

    # ------------------------------------------------------- operator actions

    def _operate(self, op: OperatorAction) -> ActionResult:
        if op.action == "retry":
            self._state.status = Status.PENDING
            self._state.escalation = ""
            self._log(op.operator, "retry", op.reason or "matching again")
        else:
            a = self._state.current
            if a is not None:
                a.outcome, a.decided_at, a.reason = Outcome.WITHDRAWN, workflow.now(), "cancelled"
            self._state.status = Status.CANCELLED
            self._state.cancel_reason = op.reason
            self._log(op.operator, "cancelled", op.reason)
        return ActionResult(self._state.workflow_id, self._state.status, f"{op.action} recorded")

    @workflow.update
    def retry(self, op: OperatorAction) -> ActionResult:
        return self._operate(replace(op, action="retry"))

    @retry.validator
    def _retry_ok(self, op: OperatorAction) -> None:
        _refuse(check_operator_action(self._state, "retry", op.reason))

    @workflow.update
    def cancel(self, op: OperatorAction) -> ActionResult:
        return self._operate(replace(op, action="cancel"))

    @cancel.validator
    def _cancel_ok(self, op: OperatorAction) -> None:
        _refuse(check_operator_action(self._state, "cancel", op.reason))

    @workflow.signal(name=names.SIGNAL_OPERATOR_ACTION)
    def operator_action(self, op: OperatorAction) -> None:
        refusal = check_operator_action(self._state, op.action, op.reason)
        if refusal is None:
            self._operate(op)
        elif op.action == "cancel" and self._state.status in Status.CLOSED:
            return
        else:
            self._log(op.operator, op.action, refusal.message, refused=True)

    @workflow.query(name=names.QUERY_DETAILS)
    def details(self) -> ReferralState:
        return self._state

    # -------------------------------------------------------------- helpers

    def _closed(self) -> bool:
        return self._state.status in Status.CLOSED

    def _log(self, actor: str, action: str, detail: str, refused: bool = False) -> None:
        self._state.history.append(
            HistoryEntry(workflow.now(), actor, action, detail, refused=refused)
        )

    def _dirty(self) -> bool:
        return len(self._state.history) > self._synced

    def _waiting(self, text: str) -> None:
        self._state.waiting_for = text
        workflow.set_current_details(text or f"{self._state.status}")

    def _send(
        self, kind: str, a: Assignment | None, detail: dict[str, str], seq: int | None = None
    ) -> None:
        """Send an email in the background: the referral's clock never waits for SMTP."""
        request = EmailRequest(
            kind=kind,
            referral=self._referral,
            scope_id=self._state.workflow_id,
            seq=seq if seq is not None else (a.seq if a else 0),
            workloads=self._scope,
            partner=self._contact if a else None,
            due_at=a.due_at if a else None,
            detail=detail,
        )
        if self._lean:
            self._outgoing.append(request)  # sent with the next publish
        else:
            self._mail.append(asyncio.create_task(self._deliver(request)))

    async def _deliver(self, request: EmailRequest) -> None:
        try:
            result = await workflow.execute_activity(
                names.ACTIVITY_EMAIL,
                request,
                result_type=EmailResult,
                start_to_close_timeout=MAIL_TIMEOUT,
                schedule_to_close_timeout=MAIL_GIVE_UP,
                retry_policy=MAIL_RETRY,
                summary=f"email: {request.kind}",
            )
        except ActivityError as err:
            cause = str(err.cause) if err.cause else str(err)
            self._log("system", "email_failed", f"{request.kind}: {cause}")
            return
        follow_up = self._email_failed(request, result)
        if follow_up is not None:
            await self._deliver(follow_up)

    def _email_failed(self, request: EmailRequest, result: EmailResult) -> EmailRequest | None:
        """Log a permanent failure; the `delivery_failure` email to send about it, if any."""
        if result.status != "failed":
            return None
        self._log("system", "email_failed", f"{request.kind}: {result.error}")
        if request.kind == "delivery_failure":
            return None
        detail = {
            "failed_message_id": result.message_id,
            "error": result.error,
            "kind": request.kind,
        }
        return replace(request, kind="delivery_failure", detail=detail)

    async def _publish_changes(self, record: bool) -> None:
        """v3: write the read model (when `record`) and send the queued emails in one
        activity; emails that met a temporary SMTP failure continue in `send_email`."""
        emails, self._outgoing = self._outgoing, []
        mark = len(self._state.history)
        snapshot = None
        if record:
            self._publish()
            snapshot = Snapshot(state=self._state, referral=self._referral)
        summary = f"record: {self._state.status}" if record else "emails"
        if emails:
            summary += " + " + ", ".join(e.kind for e in emails)
        result = await self._activity(
            names.ACTIVITY_PUBLISH,
            Publication(snapshot=snapshot, emails=emails),
            PublishResult,
            MAIL_TIMEOUT,
            summary,
        )
        if record:
            self._synced = max(self._synced, mark)
        for request, sent in zip(emails, result.emails, strict=False):
            if sent.status == "retry":
                self._mail.append(asyncio.create_task(self._deliver(request)))
                continue
            follow_up = self._email_failed(request, sent)
            if follow_up is not None:
                self._mail.append(asyncio.create_task(self._deliver(follow_up)))

    async def _activity(
        self, name: str, arg: Any, result_type: type[T], timeout: timedelta, summary: str
    ) -> T:
        """A database activity (retried while the database is away): local since v4."""
        start = workflow.execute_local_activity if self._local else workflow.execute_activity
        return await start(
            name,
            arg,
            result_type=result_type,
            start_to_close_timeout=timeout,
            retry_policy=DB_RETRY,
            summary=summary,
        )

    async def _sync(self) -> None:
        """Publish search attributes, tell the parent, and write the read model."""
        if self._lean:
            await self._publish_changes(record=True)
            return
        self._publish()
        mark = len(self._state.history)
        await workflow.execute_activity(
            names.ACTIVITY_RECORD,
            Snapshot(state=self._state, referral=self._referral),
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
            summary=f"record: {self._state.status}",
        )
        self._synced = max(self._synced, mark)

    def _publish(self) -> None:
        s = self._state
        current = s.current
        due = current.due_at if current and current.outcome == Outcome.PENDING else None
        values: list[tuple[Any, Any]] = [  # (key, value); None: unset
            (sa.REFERRAL_STATUS, s.status),
            (sa.REFERRAL_TYPE, s.type),
            (sa.WORKLOADS, list(s.workloads)),
            (sa.CUSTOMER_COUNTRY, s.customer_country),
            (sa.ESCALATED, s.status == Status.ESCALATED),
            (sa.CONTACT_OVERDUE, s.milestones.contact_overdue),
            (sa.PARTNER_ID, current.partner if current else None),
            (sa.SLA_DUE_AT, due),
        ]
        if s.parent_id:
            values.append((sa.PARENT_REFERRAL, s.parent_id))
        if self._one_marker:  # v5: only what changed (never set counts as unset)
            values = [(k, v) for k, v in values if self._upserted.get(k.name) != v]
            self._upserted.update((k.name, v) for k, v in values)
        if values or not self._one_marker:
            workflow.upsert_search_attributes(
                [k.value_unset() if v is None else k.value_set(v) for k, v in values]
            )
        workflow.set_current_details(s.waiting_for or s.status)
        partner = current.partner if current else ""
        if s.parent_id and f"{s.status}/{partner}" != self._published_status:
            self._published_status = f"{s.status}/{partner}"
            part = PartRef(s.workflow_id, list(s.workloads), s.status, partner)
            handle = workflow.get_external_workflow_handle(s.parent_id)
            self._mail.append(asyncio.create_task(self._notify_parent(handle, part)))

    async def _notify_parent(
        self, handle: workflow.ExternalWorkflowHandle[Any], part: PartRef
    ) -> None:
        try:
            await handle.signal(names.SIGNAL_PART_CHANGED, part)
        except Exception as err:  # the parent may be closed already: nothing left to tell
            self._log("system", "parent_unreachable", str(err))

    def _summary(self) -> ReferralSummary:
        s = self._state
        tta = None
        first = next((a for a in s.assignments if a.outcome in ("accepted", "completed")), None)
        if first and first.decided_at:
            tta = (first.decided_at - first.assigned_at).total_seconds()
        return ReferralSummary(
            referral_id=s.referral_id,
            status=s.status,
            assignments=s.assignments,
            parts=s.parts,
            completion=s.completion,
            started_at=s.created_at,
            ended_at=workflow.now(),
            time_to_accept_seconds=tta,
        )
