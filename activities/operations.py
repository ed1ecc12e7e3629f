"""Activities of the scheduled operations jobs (workflows/scheduled.py).

- `send_weekly_report`: db.reports.build_report over the request's period, rendered as a
  multipart email (templates/weekly_report.*.j2) to OPS_EMAIL, exactly once per scheduled run
  through the email outbox (Message-ID derived from the run's workflow id).
- `resume_expired_pauses`: PartnerDirectory.resume_expired, logged and returned for the audit
  trail (the workflow's result and details show who was resumed).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.email import EmailActivities
from activities.matching import ranking_terms
from db.directory import PartnerDirectory
from db.outbox import EmailOutbox, OutboxEntry
from db.reports import build_report
from db.track_record import floor_crossings
from domain.models import (
    PauseSweepRequest,
    PauseSweepResult,
    WeeklyReportRequest,
    WeeklyReportResult,
)
from mail.weekly_report import KIND, compose_report
from settings import Settings


class OperationsActivities:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._settings = settings
        self._sessions = sessions
        self._directory = PartnerDirectory(sessions)
        self._outbox = EmailOutbox(sessions)
        self._email = EmailActivities(settings, self._outbox)

    @activity.defn(name="send_weekly_report")
    async def send_weekly_report(self, request: WeeklyReportRequest) -> WeeklyReportResult:
        days = self._settings.sla_business_days  # the customer-contact window, as the CLI's
        now = datetime.now(UTC)  # open referrals and stuck ones: as they are when it is sent
        report = await build_report(self._sessions, request.since, now, days, request.until)
        terms = ranking_terms(self._settings)
        report.floor_crossed = await floor_crossings(
            self._sessions, request.since, request.until, terms
        )
        names = {rec.profile.mpn_id: rec.profile.name for rec in await self._directory.list()}
        mail = compose_report(report, request.since, names, self._settings, request.run_id)
        result = WeeklyReportResult(
            mail.message_id, "", list(mail.to), referrals_total=report.referrals_total
        )
        entry = OutboxEntry(mail.message_id, request.run_id, KIND, 0, mail.to, mail.subject)
        status, sent = await self._email.claim_and_send(entry, mail.message, KIND)
        if sent.status == "retry":  # the activity retry policy backs off and tries again
            raise ApplicationError(sent.error, type="TemporaryMailError")
        if sent.status == "failed" and status == "pending":
            activity.logger.error("weekly report to %s failed: %s", mail.to, sent.error)
        elif sent.status == "sent":
            activity.logger.info("weekly report %s sent to %s", mail.message_id, mail.to)
        result.status, result.error = sent.status, sent.error
        return result

    @activity.defn(name="resume_expired_pauses")
    async def resume_expired_pauses(self, request: PauseSweepRequest) -> PauseSweepResult:
        resumed = await self._directory.resume_expired(datetime.now(UTC))
        if resumed:
            activity.logger.warning(
                "pause sweep %s: resumed %d partner(s): %s",
                request.today,
                len(resumed),
                ", ".join(resumed),
            )
        else:
            activity.logger.info("pause sweep %s: no pause ended", request.today)
        return PauseSweepResult(today=request.today, resumed=resumed)
