"""The report as one self-contained HTML page (inline CSS and SVG charts, nothing fetched)."""

from __future__ import annotations

from html import escape

from cli.charts import PALETTE, Series, bar_chart
from cli.output import when
from cli.report_sections import render_guide_html
from db.reports import Report

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:1000px;color:#222;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}.sub{color:#666;margin-top:0}
.kpis{display:flex;flex-wrap:wrap;gap:1rem;margin:1.5rem 0}
.kpi{border:1px solid #ddd;border-radius:8px;padding:.8rem 1.2rem;min-width:140px}
.kpi b{display:block;font-size:1.6rem}.kpi span{color:#666;font-size:.85rem}
figure{margin:1.5rem 0}figcaption{font-weight:600;margin-bottom:.4rem}
svg .lbl{font-size:12px;fill:#333}svg .val{font-size:11px;fill:#555}
.legend span{margin-right:1rem;font-size:.85rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:-1px}
.empty{color:#888}table{border-collapse:collapse;font-size:.9rem}
td,th{border-bottom:1px solid #eee;padding:.3rem .8rem;text-align:left}
"""


def _kpi(value: str, label: str) -> str:
    return f'<div class="kpi"><b>{escape(value)}</b><span>{escape(label)}</span></div>'


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


def _hours(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 60:.0f} min" if value < 1 else f"{value:.1f} h"


def _partner_label(mpn: str, names: dict[str, str]) -> str:
    name = names.get(mpn, "")
    return f"{name} ({mpn})" if name else mpn


def render_html(r: Report, names: dict[str, str]) -> str:
    accepted, declined, expired = PALETTE[0], PALETTE[1], PALETTE[2]
    partners = list(r.acceptance_rate_by_partner.items())
    by_partner = bar_chart(
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
    declines = bar_chart(
        "Declines by reason",
        [reason.replace("_", " ") for reason in r.declines_by_reason],
        [[n] for n in r.declines_by_reason.values()],
        [Series("declines", declined)],
    )
    sla_pct = r.answered_within_sla_pct
    sla = bar_chart(
        "SLA compliance (answers within the response window)",
        [] if sla_pct is None else ["answered in time", "late or expired"],
        [] if sla_pct is None else [[sla_pct, 0.0], [0.0, 100 - sla_pct]],
        [Series("in time", PALETTE[4]), Series("late or expired", expired)],
        unit="%",
        maximum=100,
    )
    ages = bar_chart(
        "Open referrals by age",
        list(r.open_by_age),
        [[n] for n in r.open_by_age.values()],
        [Series("open", PALETTE[3])],
    )
    statuses = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in r.by_status.items())
    since = f" since {when(r.since)}" if r.since else ""
    kpis = "".join(
        [
            _kpi(str(r.referrals_total), "referrals"),
            _kpi(_pct(sla_pct), "answered within SLA"),
            _kpi(str(r.expiries), "expired assignments"),
            _kpi(str(r.escalations), "escalations"),
            _kpi(_hours(r.time_to_accept_median_hours), "median time to accept"),
            _kpi(_hours(r.time_to_accept_p90_hours), "p90 time to accept"),
        ]
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>FastTrack referrals report</title><style>{_CSS}</style></head>
<body>
<h1>FastTrack partner referrals</h1>
<p class="sub">Report{escape(since)} · generated {escape(when(r.generated_at))}</p>
<div class="kpis">{kpis}</div>
{by_partner}
{declines}
{sla}
{ages}
<h2>Referrals by status</h2>
<table><tr><th>status</th><th>referrals</th></tr>{statuses}</table>
{render_guide_html(r, names)}
</body></html>
"""
