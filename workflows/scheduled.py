"""Operations jobs started by Temporal Schedules (see runtime/schedules.py).

- `WeeklyReportWorkflow`: the SLA report for the seven days before the run, emailed to OPS_EMAIL.
- `PauseSweepWorkflow`: resume every partner whose pause ended before today (UTC).

Deterministic: the period and "today" come from `workflow.now()` (for a scheduled run, the
time the schedule started it), every effect is an activity called by name with explicit
timeouts and retries. The activity names and their argument/result dataclasses live here;
activities/operations.py imports them from this module (never the other way round).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows import metrics

WORKFLOW_WEEKLY_REPORT = "WeeklyReportWorkflow"
WORKFLOW_PAUSE_SWEEP = "PauseSweepWorkflow"
ACTIVITY_WEEKLY_REPORT = "send_weekly_report"
ACTIVITY_RESUME_EXPIRED = "resume_expired_pauses"

REPORT_PERIOD = timedelta(days=7)

# Database + SMTP: back off for as long as either is away, within the run's time budget.
OPS_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["PermanentMailError"],
)
OPS_TIMEOUT = timedelta(minutes=2)
OPS_GIVE_UP = timedelta(hours=6)


@dataclass
class WeeklyReportRequest:
    since: datetime  # aware, UTC
    until: datetime  # aware, UTC: the report's "now"
    run_id: str  # idempotency key of the email (the scheduled workflow's id)


@dataclass
class WeeklyReportResult:
    message_id: str
    status: str  # sent | duplicate | failed
    recipients: list[str] = field(default_factory=list)
    referrals_total: int = 0
    error: str = ""


@dataclass
class PauseSweepRequest:
    today: str  # ISO date (UTC) of the sweep: pauses whose last day is before it end


@dataclass
class PauseSweepResult:
    today: str  # ISO date (the JSON converter has no plain `date`)
    resumed: list[str] = field(default_factory=list)


@workflow.defn(name=WORKFLOW_WEEKLY_REPORT)
class WeeklyReportWorkflow:
    @workflow.run
    async def run(self) -> WeeklyReportResult:
        until = workflow.now()
        request = WeeklyReportRequest(
            since=until - REPORT_PERIOD, until=until, run_id=workflow.info().workflow_id
        )
        workflow.set_current_details(f"weekly report {request.since:%Y-%m-%d} – {until:%Y-%m-%d}")
        result = await workflow.execute_activity(
            ACTIVITY_WEEKLY_REPORT,
            request,
            result_type=WeeklyReportResult,
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
        result = await workflow.execute_activity(
            ACTIVITY_RESUME_EXPIRED,
            PauseSweepRequest(today=now.date().isoformat()),
            result_type=PauseSweepResult,
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
