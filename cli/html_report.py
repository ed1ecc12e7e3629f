"""The report as one self-contained HTML page (inline CSS and SVG charts, nothing fetched):
the figures are laid out here, the page is templates/report/page.html.j2."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cli.charts import PALETTE, Chart, Series, env, layout
from cli.output import when
from cli.report_sections import guide_view
from db.reports import Report


@dataclass(frozen=True)
class ReportView:
    """What the report templates show: key figures, charts, the status table."""

    since: str
    generated: str
    kpis: list[tuple[str, str]]
    charts: list[Chart]
    statuses: list[tuple[str, int]]
    guide: dict[str, Any]  # the guide's questions answered (cli/report_sections.py)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


def _hours(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 60:.0f} min" if value < 1 else f"{value:.1f} h"


def _partner_label(mpn: str, names: dict[str, str]) -> str:
    name = names.get(mpn, "")
    return f"{name} ({mpn})" if name else mpn


def report_view(r: Report, names: dict[str, str]) -> ReportView:
    accepted, declined, expired = PALETTE[0], PALETTE[1], PALETTE[2]
    partners = list(r.acceptance_rate_by_partner.items())
    by_partner = layout(
        "Acceptance by partner (assignments by outcome)",
        [_partner_label(mpn, names) for mpn, _ in partners],
        [
            [
                p["accepted"],
                p["declined"],
                p["expired"],
                max(p["assigned"] - p["accepted"] - p["declined"] - p["expired"], 0),
            ]
            for _, p in partners
        ],
        [
            Series("accepted", accepted),
            Series("declined", declined),
            Series("expired", expired),
            Series("awaiting answer", "#b8c4d0"),
        ],
    )
    declines = layout(
        "Declines by reason",
        [reason.replace("_", " ") for reason in r.declines_by_reason],
        [[n] for n in r.declines_by_reason.values()],
        [Series("declines", declined)],
    )
    sla_pct = r.answered_within_sla_pct
    sla = layout(
        "SLA compliance (answers within the response window)",
        [] if sla_pct is None else ["answered in time", "late or expired"],
        [] if sla_pct is None else [[sla_pct, 0.0], [0.0, 100 - sla_pct]],
        [Series("in time", PALETTE[4]), Series("late or expired", expired)],
        unit="%",
        maximum=100,
    )
    ages = layout(
        "Open referrals by age",
        list(r.open_by_age),
        [[n] for n in r.open_by_age.values()],
        [Series("open", PALETTE[3])],
    )
    return ReportView(
        since=f" since {when(r.since)}" if r.since else "",
        generated=when(r.generated_at),
        kpis=[
            (str(r.referrals_total), "referrals"),
            (_pct(sla_pct), "answered within SLA"),
            (str(r.expiries), "expired assignments"),
            (str(r.escalations), "escalations"),
            (_hours(r.time_to_accept_median_hours), "median time to accept"),
            (_hours(r.time_to_accept_p90_hours), "p90 time to accept"),
        ],
        charts=[by_partner, declines, sla, ages],
        statuses=list(r.by_status.items()),
        guide=guide_view(r, names),
    )


def render_html(r: Report, names: dict[str, str]) -> str:
    return env.get_template("report/page.html.j2").render(report=report_view(r, names))
