"""The operations jobs as Temporal Schedules, created or brought up to date at worker start.

| schedule id                  | when (UTC)        | workflow               |
|------------------------------|-------------------|------------------------|
| fasttrack-weekly-sla-report  | Mondays 07:00     | WeeklyReportWorkflow   |
| fasttrack-pause-sweep        | every day 00:15   | PauseSweepWorkflow     |

Operators see, pause, trigger and backfill them in the Web UI (Schedules) or with
`temporal schedule ...`. `ensure_schedules` is idempotent: a missing schedule is created, an
existing one gets the current spec and action, keeping whether an operator paused it (and the
note saying why).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from settings import Settings
from workflows.scheduled import WORKFLOW_PAUSE_SWEEP, WORKFLOW_WEEKLY_REPORT

WEEKLY_REPORT_ID = "fasttrack-weekly-sla-report"
PAUSE_SWEEP_ID = "fasttrack-pause-sweep"
MONDAY = 1  # ScheduleCalendarSpec.day_of_week: 0 is Sunday
RUN_TIMEOUT = timedelta(hours=12)  # a run still going after this is stuck: let it go


@dataclass(frozen=True)
class Job:
    schedule_id: str
    workflow: str
    when: str  # for people: printed at worker start
    calendar: ScheduleCalendarSpec
    catchup: timedelta  # how late a missed run (worker or server down) may still start


JOBS: tuple[Job, ...] = (
    Job(
        WEEKLY_REPORT_ID,
        WORKFLOW_WEEKLY_REPORT,
        "Mondays 07:00 UTC",
        ScheduleCalendarSpec(
            day_of_week=(ScheduleRange(MONDAY),),
            hour=(ScheduleRange(7),),
            minute=(ScheduleRange(0),),
            comment="weekly SLA report to OPS_EMAIL",
        ),
        timedelta(days=1),
    ),
    Job(
        PAUSE_SWEEP_ID,
        WORKFLOW_PAUSE_SWEEP,
        "daily 00:15 UTC",
        ScheduleCalendarSpec(
            hour=(ScheduleRange(0),),
            minute=(ScheduleRange(15),),
            comment="resume partners whose pause has ended",
        ),
        timedelta(hours=23),
    ),
)


def build_schedule(job: Job, settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            job.workflow,
            id=job.schedule_id,  # the server appends the scheduled time to each run's id
            task_queue=settings.task_queue,
            execution_timeout=RUN_TIMEOUT,
            static_summary=f"{job.workflow} ({job.when})",
        ),
        spec=ScheduleSpec(calendars=[job.calendar], time_zone_name="UTC"),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=job.catchup),
        state=ScheduleState(note=f"managed by the FastTrack worker: {job.when}"),
    )


def _keep_operator_state(
    desired: Schedule,
) -> Callable[[ScheduleUpdateInput], ScheduleUpdate]:
    def updater(current: ScheduleUpdateInput) -> ScheduleUpdate:
        state = current.description.schedule.state
        if state.paused:
            desired_state = replace(desired.state, paused=True, note=state.note)
        else:
            desired_state = desired.state
        return ScheduleUpdate(schedule=replace(desired, state=desired_state))

    return updater


async def ensure_schedule(client: Client, job: Job, settings: Settings) -> str:
    schedule = build_schedule(job, settings)
    try:
        await client.create_schedule(job.schedule_id, schedule)
        return "created"
    except ScheduleAlreadyRunningError:
        pass
    handle = client.get_schedule_handle(job.schedule_id)
    await handle.update(_keep_operator_state(schedule))
    return "updated"


async def ensure_schedules(client: Client, settings: Settings) -> list[str]:
    """Create or update every job's schedule; returns the schedule ids, in `JOBS` order."""
    for job in JOBS:
        await ensure_schedule(client, job, settings)
    return [job.schedule_id for job in JOBS]


def describe(job_id: str) -> str:
    """One line for the worker's start-up output."""
    job = next(j for j in JOBS if j.schedule_id == job_id)
    return f"schedule '{job.schedule_id}': {job.workflow}, {job.when}"
