"""One webhook event's delivery: its own workflow (started by the referral's publisher and
abandoned by it), so a dead endpoint never holds the referral, its SLA clock or its end."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import WebhookActivities
    from domain import names
    from domain.models import WebhookJob

# Exponential backoff: 10 s, 20 s, 40 s … up to one attempt an hour, until the job's window.
WEBHOOK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(hours=1),
)
ATTEMPT_TIMEOUT = timedelta(seconds=60)  # one POST: 10 s per phase, the checks, the record
DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn(name=names.WORKFLOW_WEBHOOK)
class WebhookDeliveryWorkflow:
    @workflow.run
    async def run(self, job: WebhookJob) -> str:
        try:
            return await workflow.execute_activity_method(
                WebhookActivities.deliver_webhook,
                job,
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=timedelta(seconds=job.give_up_s),
                retry_policy=WEBHOOK_RETRY,
                summary=f"deliver {job.event_id}",
            )
        except ActivityError:
            return await workflow.execute_activity_method(
                WebhookActivities.webhook_gave_up,
                job,
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                retry_policy=DB_RETRY,
                summary="disable the subscription, tell the partner and operations",
            )
