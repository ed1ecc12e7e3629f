"""The life of one referral (or one split part of it) as a durable workflow.

match → notify → wait for the partner's answer on a business-day SLA timer (started when the
notification is delivered) → accepted: follow the engagement until it is closed; declined or
silent: exclude that partner and match again; nobody left: escalate to operations and wait for
retry or cancel. State changes are the pure functions of `domain.transitions`; side effects go
through `workflows.publisher`; what partners and operators can do is `workflows.actions`.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.matching import MatchingActivities
    from domain import names
    from domain import transitions as t
    from domain.deadlines import compute_deadline
    from domain.models import (
        Action,
        Assignment,
        Deadline,
        MatchRequest,
        MatchResult,
        OperatorAction,
        Outcome,
        PartnerContact,
        PartRef,
        ReferralInput,
        ReferralSummary,
        SlaTerms,
        Status,
    )
    from domain.reminders import reminder_at
    from workflows import metrics

# workflow code the worker passes through the sandbox (worker.PASSED_THROUGH)
from workflows.actions import ReferralActions
from workflows.publisher import (
    DB_RETRY,
    DB_TIMEOUT,
    MAIL_GIVE_UP,
    MAIL_RETRY,
    NotificationSent,
    Publisher,
)


@workflow.defn(name=names.WORKFLOW_REFERRAL)
class ReferralWorkflow(ReferralActions):
    @workflow.init
    def __init__(self, inp: ReferralInput) -> None:
        self._referral = inp.referral
        self._state = t.new_state(inp, workflow.info().workflow_id, workflow.now())
        self._scope = self._state.workloads
        self._excluded = list(inp.excluded)
        self._partner: PartnerContact | None = None
        self._terms = SlaTerms()
        self._escalations = 0
        self._out = Publisher(inp.referral, self._state)

    @workflow.run
    async def run(self, inp: ReferralInput) -> ReferralSummary:
        self._log(
            t.SYSTEM, "created", f"{self._referral.type} referral for {', '.join(self._scope)}"
        )
        while not self._closed():
            if self._state.status == Status.ESCALATED:
                await self._wait(lambda: self._state.status != Status.ESCALATED)
                continue
            result = await self._match()
            if self._closed():
                self._release(result)
            elif result.partner is not None:
                await self._assignment(result.partner, result)
            elif result.split and inp.parent_id is None:
                await self._split(result.split)
            else:
                await self._escalate(result)
        self._waiting("")
        await self._out.publish()
        await self._out.drain()
        if self._out.pending():
            await self._out.publish()
        return t.summary(self._state, workflow.now())

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
            allow_split=self._state.parent_id is None,
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
        self._send("escalation", None, {"why": why}, seq=self._escalations)
        await self._out.publish()

    # ----------------------------------------------------------- assignment

    async def _assignment(self, partner: PartnerContact, result: MatchResult) -> None:
        a = t.assign(self._state, partner, result.explanation, workflow.now())
        self._partner, self._terms = partner, result.terms
        metrics.assigned(self._referral.type)
        due = await self._notify(a, partner)
        if self._closed():
            return
        answered = await self._wait_with_reminder(
            lambda: a.outcome != Outcome.PENDING or self._closed(),
            a.notified_at or a.assigned_at,
            due.due_at,
            "reminder",
            "SLA: accept or decline",
        )
        if self._closed():
            return
        if not answered:
            t.expire(self._state, a, workflow.now())
            metrics.expired(self._referral.type)
            self._excluded.append(a.partner)
            self._send("expired", a, {})
            self._send("team_reassigned", a, {"reason": "no answer within the SLA"})
        elif a.outcome == Outcome.DECLINED:
            self._after_decline(a)
        else:
            await self._engagement(a, partner)

    async def _notify(self, a: Assignment, partner: PartnerContact) -> Deadline:
        """Email the partner; its answer is due SLA business days after delivery. The
        notification and the account team's copy are rendered when the clock starts and
        state the deadline in force: while the mail server is away, each new attempt starts
        the clock again and states its own deadline."""
        due = self._start_clock(a, partner)
        sent = await self._send_notification(a, due, None)
        if sent.status != "retry":
            return due  # delivered (or undeliverable, and operations are told)
        a.notified_at = a.due_at = None
        self._log(t.SYSTEM, "notification_delayed", sent.error)
        self._waiting(f"notifying {partner.mpn_id}: the answer clock starts on delivery")
        pause, waited, started = MAIL_RETRY.initial_interval, timedelta(0), workflow.now()
        while sent.status == "retry" and waited < MAIL_GIVE_UP:
            await workflow.sleep(pause, summary="mail server away: notify again")
            waited += pause
            pause = min(pause * 2, MAIL_RETRY.maximum_interval or pause)
            started = workflow.now()
            due = self._deadline(started, partner)
            sent = await self._send_notification(a, due, sent)
        if sent.status == "retry":
            await self._out.report_failure(sent.request, sent.gave_up())
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
        results = {id(request): result for request, result in await self._out.publish()}
        result = results[id(notification)]
        team_result = results.get(id(team))
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
        self._log(t.SYSTEM, "notified", f"{partner.mpn_id} notified, answer due {due.local_text}")
        self._waiting(f"waiting for {partner.mpn_id} to accept or decline, due {due.local_text}")
        return due

    async def _engagement(self, a: Assignment, partner: PartnerContact) -> None:
        self._send("team_accepted", a, {})
        if a.outcome != Outcome.ACCEPTED or a.accepted_at is None:
            self._finish(a)  # completed or declined again before this ran
            return
        due = self._deadline(a.accepted_at, partner)
        m = self._state.milestones
        m.contact_due_at = due.due_at
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
            self._send("contact_overdue", a, {"due_local": due.local_text})
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
            value = "" if c.vas_value is None else f"{c.vas_value:,.2f}"
            detail = {"vas_sold": "yes" if c.vas_sold else "no", "vas_value": value}
            self._send("team_completed", a, detail | {"notes": c.notes})

    def _after_decline(self, a: Assignment) -> None:
        self._excluded.append(a.partner)
        self._send("decline_ack", a, {"reason": a.reason, "note": a.note})
        self._send("team_reassigned", a, {"reason": f"declined: {a.reason}"})

    def _deadline(self, start: datetime, partner: PartnerContact) -> Deadline:
        return compute_deadline(start, partner.country, partner.timezone, self._terms)

    # ---------------------------------------------------------------- split

    async def _split(self, plan: list[list[str]]) -> None:
        s = self._state
        s.status = Status.SPLIT
        self._log(
            t.SYSTEM,
            "split",
            "no single partner covers every workload: "
            + "; ".join("+".join(part) for part in plan),
        )
        for number, workloads in enumerate(plan, start=1):
            wid = names.part_workflow_id(s.referral_id, number)
            s.parts.append(PartRef(workflow_id=wid, workloads=workloads, status=""))
            await workflow.start_child_workflow(
                ReferralWorkflow.run,
                ReferralInput(self._referral, s.workflow_id, workloads, list(self._excluded)),
                id=wid,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                static_summary=f"part {number} of {s.referral_id}: {', '.join(workloads)}",
            )
        self._waiting_for_parts()
        await self._wait(lambda: self._closed() or t.parts_settled(s))
        if s.status == Status.CANCELLED:
            for part in s.parts:
                if part.status not in Status.CLOSED:
                    await workflow.get_external_workflow_handle(part.workflow_id).signal(
                        names.SIGNAL_OPERATOR_ACTION,
                        OperatorAction(Action.CANCEL, s.cancel_reason, "parent"),
                    )
        else:
            t.close_split(s, workflow.now())

    def _waiting_for_parts(self) -> None:
        parts = ", ".join(f"{p.workflow_id} {p.status or 'starting'}" for p in self._state.parts)
        self._waiting(f"split: waiting for every part to be completed or cancelled ({parts})")

    @workflow.signal(name=names.SIGNAL_PART_CHANGED)
    def part_changed(self, part: PartRef) -> None:
        t.part_changed(self._state, part, workflow.now())
        if self._state.status == Status.SPLIT:
            self._waiting_for_parts()

    # -------------------------------------------------------------- waiting

    async def _wait_with_reminder(
        self, done: Callable[[], bool], start: datetime, due: datetime, kind: str, label: str
    ) -> bool:
        """Wait for `done` until `due`; remind the partner once, when `domain.reminders` says
        (the start of its last business day before `due`; none in a shorter window)."""
        partner = self._partner
        remind = reminder_at(start, due, partner.country, partner.timezone) if partner else None
        if remind is not None:
            if await self._wait(done, remind, f"{label}: reminder"):
                return True
            a = self._state.assignments[-1]
            self._send(kind, a, {})
            self._log(t.SYSTEM, "reminded", f"{kind.replace('_', ' ')} sent to {a.partner}")
        return await self._wait(done, due, label)

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
        self._state.waiting_for = text
        workflow.set_current_details(text or self._state.status)
