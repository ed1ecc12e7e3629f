"""A referral workflow's side effects: the read model, its emails, search attributes and the
parent of a split part. Workflow code (re-imported into each workflow's sandbox): every effect
is an activity or a workflow command. It reads the referral's state and changes it only
through `domain.transitions`."""

import asyncio
import contextlib
from dataclasses import replace
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.directory import DirectoryActivities
    from activities.email import EmailActivities
    from activities.publish import PublishActivities
    from domain import names
    from domain.models import (
        CporClaim,
        EmailRequest,
        EmailResult,
        Outcome,
        PartRef,
        Publication,
        Referral,
        ReferralState,
        Snapshot,
        Status,
        WebhookJob,
    )
    from domain.transitions import SYSTEM, log
    from workflows import search_attributes as sa
    from workflows.activity_options import (
        DB_RETRY,
        DB_TIMEOUT,
        MAIL_GIVE_UP,
        MAIL_RETRY,
        MAIL_TIMEOUT,
    )

# Rendered when the answer clock starts: the workflow sends them again itself (with the
# deadline of the new attempt) instead of retrying them unchanged.
RENDERED_AT_CLOCK_START = ("notification", "team_assigned")


class Publisher:
    """Queues a referral's emails and publishes its state with them in one activity."""

    def __init__(self, referral: Referral, state: ReferralState) -> None:
        self._referral = referral
        self._state = state
        self._outgoing: list[EmailRequest] = []
        self._published = 0  # history entries the read model has
        self._upserted: dict[str, Any] = {}  # search attribute values last upserted
        self._told_parent = ""
        self._reports = 0  # reports sent to the parent (their sequence numbers)
        self._background: list[asyncio.Task[None]] = []

    def queue(self, request: EmailRequest) -> None:
        self._outgoing.append(request)

    def pending(self) -> bool:
        """Something to publish: new history or queued emails."""
        return bool(self._outgoing) or len(self._state.history) > self._published

    async def publish(self) -> list[tuple[EmailRequest, EmailResult]]:
        """Write the state and send the queued emails; a temporarily failed email goes on
        retrying in the background. Returns each email's first result."""
        emails, self._outgoing = self._outgoing, []
        mark = len(self._state.history)
        self._search_attributes()
        self._tell_parent()
        what = ", ".join(e.kind for e in emails)
        # local: runs in this worker, with no activity task through the server (it pays in
        # bench.pipeline); safe to re-run whole: the write is idempotent, the outbox sends once
        result = await workflow.execute_local_activity_method(
            PublishActivities.publish_changes,
            Publication(Snapshot(self._state, self._referral), emails, self._published),
            start_to_close_timeout=MAIL_TIMEOUT,
            retry_policy=DB_RETRY,
            summary=f"record: {self._state.status}" + (f" + {what}" if what else ""),
        )
        self._published = max(self._published, mark)
        for job in result.webhooks:  # each event delivers on its own, never holding this one
            self._in_background(self._start_webhook(job))
        sent = list(zip(emails, result.emails, strict=True))
        for request, first in sent:
            if first.status == "retry" and request.kind not in RENDERED_AT_CLOCK_START:
                self._in_background(self.deliver(request))
            elif first.status == "failed":
                self._in_background(self.report_failure(request, first))
        return sent

    def deliver_later(self, request: EmailRequest) -> None:
        """`deliver` in the background."""
        self._in_background(self.deliver(request))

    async def deliver(self, request: EmailRequest) -> EmailResult:
        """Send one email, retrying temporary failures for up to MAIL_GIVE_UP."""
        try:
            result = await workflow.execute_activity_method(
                EmailActivities.send_email,
                request,
                start_to_close_timeout=MAIL_TIMEOUT,
                schedule_to_close_timeout=MAIL_GIVE_UP,
                retry_policy=MAIL_RETRY,
                summary=f"email: {request.kind}",
            )
        except ActivityError as err:
            result = EmailResult("", "failed", str(err.cause or err))
        if result.status == "failed":
            await self.report_failure(request, result)
        return result

    async def _start_webhook(self, job: WebhookJob) -> None:
        # Started already: the same event id is the same delivery.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await workflow.start_child_workflow(
                names.WORKFLOW_WEBHOOK,
                job,
                id=f"webhook-{job.event_id}",
                parent_close_policy=ParentClosePolicy.ABANDON,
                static_summary=f"webhook event {job.event_id}",
            )

    def record_claim(self, claim: CporClaim) -> None:
        """Record the partner's CPOR claim in the directory (in the background)."""
        self._in_background(self._record_claim(claim))

    async def _record_claim(self, claim: CporClaim) -> None:
        await workflow.execute_activity_method(
            DirectoryActivities.record_cpor_claim,
            claim,
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
            summary=f"record CPOR claim of {claim.partner}",
        )

    async def drain(self) -> None:
        """Wait for every background email (and parent signal) to finish."""
        while self._background:
            running, self._background = self._background, []
            await asyncio.gather(*running)

    # -- helpers -----------------------------------------------------------------------

    def _in_background(self, work: Any) -> None:
        self._background.append(asyncio.create_task(work))

    async def report_failure(self, request: EmailRequest, result: EmailResult) -> None:
        """Record a failed email and tell operations (unless that report itself failed)."""
        log(self._state, workflow.now(), SYSTEM, "email_failed", f"{request.kind}: {result.error}")
        if request.kind == "delivery_failure":
            return
        detail = {"failed_message_id": result.message_id, "error": result.error}
        await self.deliver(
            replace(request, kind="delivery_failure", detail=detail | {"kind": request.kind})
        )

    def _search_attributes(self) -> None:
        s = self._state
        current = s.current
        due = current.due_at if current and current.outcome == Outcome.PENDING else None
        values: list[tuple[Any, Any]] = [  # (key, value); None: unset
            (sa.REFERRAL_STATUS, str(s.status)),
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
        changed = [(k, v) for k, v in values if self._upserted.get(k.name) != v]
        if changed:
            self._upserted.update((k.name, v) for k, v in changed)
            workflow.upsert_search_attributes(
                [k.value_unset() if v is None else k.value_set(v) for k, v in changed]
            )

    def _tell_parent(self) -> None:
        s = self._state
        current = s.current
        partner = current.partner if current else ""
        if not s.parent_id or f"{s.status}/{partner}" == self._told_parent:
            return
        self._told_parent = f"{s.status}/{partner}"
        self._reports += 1
        part = PartRef(s.workflow_id, list(s.workloads), s.status, partner, self._reports)
        self._in_background(self._signal_parent(s.parent_id, part))

    async def _signal_parent(self, parent_id: str, part: PartRef) -> None:
        try:
            await workflow.get_external_workflow_handle(parent_id).signal(
                names.SIGNAL_PART_CHANGED, part
            )
        except Exception as err:  # the parent may be closed already: nothing left to tell
            log(self._state, workflow.now(), SYSTEM, "parent_unreachable", str(err))
