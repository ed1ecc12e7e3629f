"""The weekly report email (activities/operations.py sends it): the report's figures in
PROGRAM_LOCALE, rendered from templates/weekly_report.*.j2 as a multipart message to OPS_EMAIL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parseaddr
from typing import Any

from domain.report import Report
from mail import display, formats, i18n, report_text
from mail.compose import build_message, render
from mail.i18n import _, _n
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


def _period(since: datetime, until: datetime) -> str:
    return _(
        "%(start)s – %(end)s (%(zone)s)",
        start=formats.moment_short(since, "UTC"),
        end=formats.moment_short(until, "UTC"),
        zone=formats.zone_name(until, "UTC"),
    )


def _last_day(r: Report) -> date:
    """The period's last day: the day before its (excluded) end."""
    return (r.until - timedelta(microseconds=1)).date() if r.until else r.generated_at.date()


def _summary(r: Report) -> str:
    pct = r.answered_within_sla_pct
    return _(
        "%(referrals)s, %(sla)s, %(escalations)s",
        referrals=_n("%(n)s referral", "%(n)s referrals", r.referrals_total),
        sla=_("no answers due")
        if pct is None
        else _("%(share)s within SLA", share=report_text.percent(pct)),
        escalations=_n("%(n)s escalation", "%(n)s escalations", r.escalations),
    )


def _context(
    r: Report, since: datetime, names: dict[str, str], settings: Settings, subject: str
) -> dict[str, Any]:
    """The figures in the current render's language (`compose_report` picks PROGRAM_LOCALE)."""
    partners = [
        {
            "mpn_id": mpn,
            "name": names.get(mpn, mpn),
            **{k: formats.number(p[k]) for k in ("assigned", "accepted", "declined", "expired")},
            "rate": formats.share(p["acceptance_rate"], 0),
        }
        for mpn, p in r.acceptance_rate_by_partner.items()
    ]
    team = r.account_team_first
    crossed = [
        {
            "mpn_id": c.mpn_id,
            "name": names.get(c.mpn_id, ""),
            "score": formats.fixed(c.score, 2),
            "record": _(
                "%(offers)s, %(expired)s expired, %(declined)s declined, %(completed)s completed",
                offers=_n("%(n)s offer", "%(n)s offers", c.offers),
                expired=formats.number(c.expired),
                declined=formats.number(c.declined_partner),
                completed=formats.number(c.completed),
            ),
        }
        for c in r.floor_crossed
    ]
    return {
        "subject": subject,
        "tone": "ops",
        "banner": _("FastTrack referrals · Operations"),
        "r": r,
        "period": _period(since, r.until or r.generated_at),
        "summary": _summary(r),
        "alert": _(
            "%(escalations)s and %(expiries)s this week.",
            escalations=_n("%(n)s escalation", "%(n)s escalations", r.escalations),
            expiries=_n("%(n)s expired assignment", "%(n)s expired assignments", r.expiries),
        ),
        "since_day": f"{since:%Y-%m-%d}",
        "facts": [
            (_("Referrals created"), _referrals(r)),
            (_("Split parts"), report_text.counts(r.parts_by_status)),
            (_("Assignments"), formats.number(r.assignments_total)),
            (_("Answered within SLA"), report_text.percent(r.answered_within_sla_pct)),
            (_("Expired (no answer)"), formats.number(r.expiries)),
            (_("Escalations"), formats.number(r.escalations)),
            (
                _("Time to accept"),
                _(
                    "median %(median)s, p90 %(p90)s",
                    median=report_text.hours(r.time_to_accept_median_hours),
                    p90=report_text.hours(r.time_to_accept_p90_hours),
                ),
            ),
            (
                _("Customer contact in time"),
                report_text.percent(r.contact_sla.get("compliance_pct")),
            ),
            (_("Went to a CPOR claimant"), formats.number(r.cpor_claimant_referrals)),
            (
                _("Account team contacted before kick-off"),
                _(
                    "%(share)s (%(before)s of %(judged)s)",
                    share=report_text.percent(team.get("share_pct")),
                    before=formats.number(team.get("before_kickoff", 0)),
                    judged=formats.number(team.get("judged", 0)),
                ),
            ),
        ],
        "partners": partners,
        "crossed": crossed,
        "declines": [
            (display.reason(k), formats.number(v)) for k, v in r.declines_by_reason.items()
        ],
        "open_by_age": [(report_text.age(k), formats.number(v)) for k, v in r.open_by_age.items()],
        "stuck": [
            {
                "referral_id": s["referral_id"],
                "status": display.status(s["status"]),
                "why": s["why"],
            }
            for s in r.stuck
        ],
        "ops_email": settings.ops_email,
        "names": names,
        "locale": i18n.current(),
    }


def _referrals(r: Report) -> str:
    total = formats.number(r.referrals_total)
    if not r.referrals_total:
        return total
    return _("%(total)s (%(by_status)s)", total=total, by_status=report_text.counts(r.by_status))


def locale_of(settings: Settings) -> str:
    """Operations' emails are in PROGRAM_LOCALE."""
    return settings.program_locale


def compose_report(
    r: Report, since: datetime, names: dict[str, str], settings: Settings, run_id: str
) -> ReportEmail:
    """The weekly report as a multipart/alternative message to OPS_EMAIL, in PROGRAM_LOCALE."""
    tag = locale_of(settings)
    with i18n.using(tag):
        subject = _(
            "FastTrack weekly SLA report %(start)s – %(end)s: %(summary)s",
            start=formats.day(since.date()),
            end=formats.day(_last_day(r)),
            summary=_summary(r),
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
        {"X-FastTrack-Kind": KIND, "Content-Language": tag},
        datetime.now(UTC),
    )
    return ReportEmail(message_id, subject, to, text, html, message)
