"""Activities of the scheduled operations jobs (workflows/scheduled.py).

- `send_weekly_report`: db.reports.build_report over the request's period, rendered as a
  multipart email (templates/weekly_report.*.j2) to OPS_EMAIL, exactly once per scheduled run
  through the email outbox (Message-ID derived from the run's workflow id).
- `resume_expired_pauses`: PartnerDirectory.resume_expired, logged and returned for the audit
  trail (the workflow's result and details show who was resumed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.email import EmailActivities
from activities.matching import ranking_terms
from db.directory import PartnerDirectory
from db.outbox import EmailOutbox, OutboxEntry
from db.reports import Report, build_report
from db.track_record import floor_crossings
from domain.models import (
    PauseSweepRequest,
    PauseSweepResult,
    WeeklyReportRequest,
    WeeklyReportResult,
)
from mail import display
from mail.compose import build_message, render
from mail.mime import Outgoing
from settings import Settings

KIND = "weekly_report"
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass
class ReportEmail:
    message_id: str
    subject: str
    to: list[str]
    text: str
    html: str
    message: Outgoing


def report_message_id(run_id: str, settings: Settings) -> str:
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2]
    domain = re.sub(r"[^A-Za-z0-9.-]+", "", domain).strip(".-") or "fasttrack.localhost"
    return f"<{_ID_UNSAFE.sub('-', run_id).strip('-') or 'report'}.{KIND}@{domain}>"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "none"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} h"


def _context(
    r: Report, since: datetime, names: dict[str, str], settings: Settings, subject: str
) -> dict[str, Any]:
    period = f"{since:%a %d %b %Y %H:%M} – {r.generated_at:%a %d %b %Y %H:%M} UTC"
    partners = [
        {
            "mpn_id": mpn,
            "name": names.get(mpn, mpn),
            "assigned": p["assigned"],
            "accepted": p["accepted"],
            "declined": p["declined"],
            "expired": p["expired"],
            "rate": "-" if p["acceptance_rate"] is None else f"{100 * p['acceptance_rate']:.0f}%",
        }
        for mpn, p in r.acceptance_rate_by_partner.items()
    ]
    pct = r.answered_within_sla_pct
    return {
        "subject": subject,
        "tone": "ops",
        "banner": "FastTrack referrals · Operations",
        "r": r,
        "period": period,
        "since_day": f"{since:%Y-%m-%d}",
        "by_status": _counts(r.by_status),
        "parts_by_status": _counts(r.parts_by_status),
        "sla_pct": "-" if pct is None else f"{pct:.1f}%",
        "median": _hours(r.time_to_accept_median_hours),
        "p90": _hours(r.time_to_accept_p90_hours),
        "partners": partners,
        "declines": [(display.reason(k), v) for k, v in r.declines_by_reason.items()],
        "open_by_age": list(r.open_by_age.items()),
        "stuck": [(s["referral_id"], f"{s['status']}: {s['why']}") for s in r.stuck],
        "ops_email": settings.ops_email,
        "names": names,
    }


def compose_report(
    r: Report, since: datetime, names: dict[str, str], settings: Settings, run_id: str
) -> ReportEmail:
    """The weekly report as a multipart/alternative message to OPS_EMAIL."""
    pct = r.answered_within_sla_pct
    sla = "no answers due" if pct is None else f"{pct:.1f}% within SLA"
    subject = (
        f"FastTrack weekly SLA report {since:%d %b} – {r.generated_at:%d %b %Y}: "
        f"{r.referrals_total} referrals, {sla}, {r.escalations} escalations"
    )
    text, html = render(KIND, _context(r, since, names, settings, subject))
    message_id = report_message_id(run_id, settings)
    to = [settings.ops_email]
    message = build_message(
        message_id,
        settings.mail_from,
        to,
        [],
        subject,
        text,
        html,
        {"X-FastTrack-Kind": KIND},
        datetime.now(UTC),
    )
    return ReportEmail(message_id, subject, to, text, html, message)


class OperationsActivities:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._settings = settings
        self._sessions = sessions
        self._directory = PartnerDirectory(sessions)
        self._outbox = EmailOutbox(sessions)
        self._email = EmailActivities(settings, self._outbox)

    @activity.defn(name="send_weekly_report")
    async def send_weekly_report(self, request: WeeklyReportRequest) -> WeeklyReportResult:
        report = await build_report(self._sessions, request.since, request.until)
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
