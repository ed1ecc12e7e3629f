"""The report as one self-contained HTML page (inline CSS and SVG charts, nothing fetched),
for `fasttrack report --html` and the portal's Reports page: the figures are laid out here,
the page is templates/report/page.html.j2; `guide_view` formats the guide's sections once for
the HTML and the CLI's text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.report import Report
from mail import display, formats, i18n, report_text
from mail.i18n import _
from mail.report_charts import PALETTE, Chart, Series, env, layout


@dataclass(frozen=True)
class ReportView:
    """What the report templates show: key figures, charts, the status table."""

    since: str
    generated: str
    kpis: list[tuple[str, str]]
    charts: list[Chart]
    statuses: list[tuple[str, str]]
    guide: dict[str, Any]  # the guide's questions answered (`guide_view`)
    parts: list[tuple[str, str]]  # split parts by status, as the CLI and the weekly email


def _partner_label(mpn: str, names: dict[str, str]) -> str:
    name = names.get(mpn, "")
    return f"{name} ({mpn})" if name else mpn


def report_view(r: Report, names: dict[str, str]) -> ReportView:
    """The figures in the current render's language (the portal's operator, or `en`)."""
    accepted, declined, expired = PALETTE[0], PALETTE[1], PALETTE[2]
    partners = list(r.acceptance_rate_by_partner.items())
    by_partner = layout(
        _("Acceptance by partner (assignments by outcome)"),
        [_partner_label(mpn, names) for mpn, _p in partners],
        [
            [
                p["accepted"],
                p["declined"],
                p["expired"],
                max(p["assigned"] - p["accepted"] - p["declined"] - p["expired"], 0),
            ]
            for _mpn, p in partners
        ],
        [
            Series(display.outcome("accepted"), accepted),
            Series(display.outcome("declined"), declined),
            Series(display.outcome("expired"), expired),
            Series(_("awaiting answer"), "#b8c4d0"),
        ],
    )
    declines = layout(
        _("Declines by reason"),
        [display.reason(reason) for reason in r.declines_by_reason],
        [[n] for n in r.declines_by_reason.values()],
        [Series(_("declines"), declined)],
    )
    sla_pct = r.answered_within_sla_pct
    late = _("late or expired")
    sla = layout(
        _("SLA compliance (answers within the response window)"),
        [] if sla_pct is None else [_("answered in time"), late],
        [] if sla_pct is None else [[sla_pct, 0.0], [0.0, 100 - sla_pct]],
        [Series(_("in time"), PALETTE[4]), Series(late, expired)],
        unit="%",
        maximum=100,
    )
    ages = layout(
        _("Open referrals by age"),
        [report_text.age(code) for code in r.open_by_age],
        [[n] for n in r.open_by_age.values()],
        [Series(_("open"), PALETTE[3])],
    )
    return ReportView(
        since=formats.moment_short(r.since, "UTC") if r.since else "",
        generated=formats.moment_long(r.generated_at, "UTC"),
        kpis=[
            (formats.number(r.referrals_total), _("referrals")),
            (report_text.percent(sla_pct), _("answered within SLA")),
            (formats.number(r.expiries), _("expired assignments")),
            (formats.number(r.escalations), _("escalations")),
            (report_text.short_hours(r.time_to_accept_median_hours), _("median time to accept")),
            (report_text.short_hours(r.time_to_accept_p90_hours), _("p90 time to accept")),
        ],
        charts=[by_partner, declines, sla, ages],
        statuses=[(display.status(s), formats.number(n)) for s, n in r.by_status.items()],
        guide=guide_view(r, names),
        parts=[(display.status(s), formats.number(n)) for s, n in r.parts_by_status.items()],
    )


def render_html(r: Report, names: dict[str, str]) -> str:
    """The page for `fasttrack report --html`: English, as the CLI is."""
    with i18n.using("en"):
        return env.get_template("report/page.html.j2").render(
            report=report_view(r, names), locale="en"
        )


def _share(value: float | None) -> str:
    return formats.share(value, 0)


def _guide_hours(value: float | None) -> str:
    return report_text.hours(value)


def _guide_label(mpn: str, names: dict[str, str]) -> str:
    name = names.get(mpn, "")
    return f"{name} ({mpn})" if name else mpn


def guide_view(r: Report, names: dict[str, str]) -> dict[str, Any]:
    """The sections' figures, formatted once for text and HTML in the current language."""
    c = r.contact_sla
    return {
        "decline_partners": [
            {
                "label": _guide_label(mpn, names),
                "decided": formats.number(p["decided"]),
                "declined": formats.number(p["declined"]),
                "rate": _share(p["decline_rate"]),
                "reasons": report_text.counts(p["by_reason"], display.reason),
            }
            for mpn, p in r.decline_rate_by_partner.items()
        ],
        "decline_reasons": [
            {
                "reason": display.reason(reason),
                "declines": formats.number(d["declines"]),
                "rate": _share(d["decline_rate"]),
                "share": _share(d["share"]),
            }
            for reason, d in r.decline_rate_by_reason.items()
        ],
        "contact": {
            "business_days": c.get("business_days", 2),
            "pct": report_text.percent(c.get("compliance_pct")),
            **{k: formats.number(c.get(k, 0)) for k in ("in_time", "late", "overdue", "waiting")},
        },
        "accept_by_type": _accept_rows(r.time_to_accept_by_type, report_text.referral_type),
        "accept_by_country": _accept_rows(r.time_to_accept_by_country, _country),
        "cpor": r.cpor_claimant_referrals,
        "team_first": {
            "judged": formats.number(r.account_team_first.get("judged", 0)),
            "before": formats.number(r.account_team_first.get("before_kickoff", 0)),
            "pct": report_text.percent(r.account_team_first.get("share_pct")),
        },
    }


def _country(code: str) -> str:
    name = formats.country(code)
    return f"{name} ({code})" if name != code else code


def _accept_rows(
    groups: dict[str, dict[str, Any]], name: Callable[[str], str]
) -> list[dict[str, Any]]:
    return [
        {
            "key": name(key),
            "accepted": formats.number(g["accepted"]),
            "median": _guide_hours(g["median_hours"]),
            "p90": _guide_hours(g["p90_hours"]),
        }
        for key, g in groups.items()
    ]


def render_guide_html(r: Report, names: dict[str, str]) -> str:
    with i18n.using("en"):
        return env.get_template("report/guide_sections.html.j2").render(g=guide_view(r, names))
