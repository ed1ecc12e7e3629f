"""The report as one self-contained HTML page (inline CSS and SVG charts, nothing fetched),
for `fasttrack report --html` and the portal's Reports page: the figures are laid out here,
the page is templates/report/page.html.j2; `guide_view` formats the guide's sections once for
the HTML and the CLI's text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.formatting import when
from domain.report import Report
from mail.report_charts import PALETTE, Chart, Series, env, layout


@dataclass(frozen=True)
class ReportView:
    """What the report templates show: key figures, charts, the status table."""

    since: str
    generated: str
    kpis: list[tuple[str, str]]
    charts: list[Chart]
    statuses: list[tuple[str, int]]
    guide: dict[str, Any]  # the guide's questions answered (`guide_view`)


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


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _guide_hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} h"


def _guide_label(mpn: str, names: dict[str, str]) -> str:
    name = names.get(mpn, "")
    return f"{name} ({mpn})" if name else mpn


def guide_view(r: Report, names: dict[str, str]) -> dict[str, Any]:
    """The sections' figures, formatted once for text and HTML."""
    c = r.contact_sla
    pct = c.get("compliance_pct")
    return {
        "decline_partners": [
            {
                "label": _guide_label(mpn, names),
                "decided": p["decided"],
                "declined": p["declined"],
                "rate": _share(p["decline_rate"]),
                "reasons": ", ".join(f"{k} {v}" for k, v in p["by_reason"].items()) or "-",
            }
            for mpn, p in r.decline_rate_by_partner.items()
        ],
        "decline_reasons": [
            {
                "reason": reason,
                "declines": d["declines"],
                "rate": _share(d["decline_rate"]),
                "share": _share(d["share"]),
            }
            for reason, d in r.decline_rate_by_reason.items()
        ],
        "contact": {
            "business_days": c.get("business_days", 2),
            "pct": "-" if pct is None else f"{pct:.1f}%",
            **{k: c.get(k, 0) for k in ("in_time", "late", "overdue", "waiting")},
        },
        "accept_by_type": _accept_rows(r.time_to_accept_by_type),
        "accept_by_country": _accept_rows(r.time_to_accept_by_country),
        "cpor": r.cpor_claimant_referrals,
        "team_first": {
            "judged": r.account_team_first.get("judged", 0),
            "before": r.account_team_first.get("before_kickoff", 0),
            "pct": "-"
            if r.account_team_first.get("share_pct") is None
            else f"{r.account_team_first['share_pct']:.1f}%",
        },
    }


def _accept_rows(groups: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "key": key,
            "accepted": g["accepted"],
            "median": _guide_hours(g["median_hours"]),
            "p90": _guide_hours(g["p90_hours"]),
        }
        for key, g in groups.items()
    ]


def render_guide_html(r: Report, names: dict[str, str]) -> str:
    return env.get_template("report/guide_sections.html.j2").render(g=guide_view(r, names))
