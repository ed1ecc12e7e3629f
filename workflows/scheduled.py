"""Operations jobs started by Temporal Schedules (see runtime/schedules.py).

- `WeeklyReportWorkflow`: the SLA report of the last whole week before the run (Monday 00:00 UTC
  to Monday 00:00, `domain.report.last_week`: the weeks of the Reports page's trends), emailed
  to OPS_EMAIL.
- `PauseSweepWorkflow`: clear the pauses that are over (`domain.pauses`: at midnight after the
  last day, in the partner's time zone); matching already ignores them from that moment.

The period and "today" come from `workflow.now()` (for a scheduled run, the time the schedule
started it); every effect is an activity with explicit timeouts and retries.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.operations import OperationsActivities
    from domain.models import (
        PauseSweepRequest,
        PauseSweepResult,
        WeeklyReportRequest,
        WeeklyReportResult,
    )
    from domain.report import last_week

from workflows import metrics  # workflow code: re-imported into each workflow's sandbox

WORKFLOW_WEEKLY_REPORT = "WeeklyReportWorkflow"
WORKFLOW_PAUSE_SWEEP = "PauseSweepWorkflow"

# Database + SMTP: back off for as long as either is away, within the run's time budget.
OPS_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["PermanentMailError"],
)
OPS_TIMEOUT = timedelta(minutes=2)
OPS_GIVE_UP = timedelta(hours=6)

__all__ = [
    "PauseSweepResult",
    "PauseSweepWorkflow",
    "WeeklyReportResult",
    "WeeklyReportWorkflow",
]


@workflow.defn(name=WORKFLOW_WEEKLY_REPORT)
class WeeklyReportWorkflow:
    @workflow.run
    async def run(self) -> WeeklyReportResult:
        since, until = last_week(workflow.now())
        request = WeeklyReportRequest(since=since, until=until, run_id=workflow.info().workflow_id)
        workflow.set_current_details(f"weekly report {request.since:%Y-%m-%d} – {until:%Y-%m-%d}")
        result = await workflow.execute_activity_method(
            OperationsActivities.send_weekly_report,
            request,
            start_to_close_timeout=OPS_TIMEOUT,
            schedule_to_close_timeout=OPS_GIVE_UP,
            retry_policy=OPS_RETRY,
            summary="build and email the weekly SLA report",
        )
        workflow.logger.info("weekly report %s: %s", result.message_id, result.status)
        workflow.set_current_details(f"weekly report {result.status} to {result.recipients}")
        return result


@workflow.defn(name=WORKFLOW_PAUSE_SWEEP)
class PauseSweepWorkflow:
    @workflow.run
    async def run(self) -> PauseSweepResult:
        now = workflow.now()
        result = await workflow.execute_activity_method(
            OperationsActivities.resume_expired_pauses,
            PauseSweepRequest(today=now.date().isoformat()),
            start_to_close_timeout=OPS_TIMEOUT,
            schedule_to_close_timeout=OPS_GIVE_UP,
            retry_policy=OPS_RETRY,
            summary="resume partners whose pause has ended",
        )
        metrics.partners_resumed(len(result.resumed))
        resumed = ", ".join(result.resumed) or "none"
        workflow.logger.info("pause sweep for %s resumed: %s", result.today, resumed)
        workflow.set_current_details(f"pause sweep {result.today}: resumed {resumed}")
        return result
