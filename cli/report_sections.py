"""The report's sections answering the guide's questions (decline rates, customer-contact
SLA, time to accept by type and country, CPOR claimants), as text and as an HTML fragment."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from cli.output import table
from db.reports import Report
from mail.compose import TEMPLATES_DIR

TEMPLATE = "report/guide_sections.html.j2"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    undefined=StrictUndefined,
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} h"


def _label(mpn: str, names: dict[str, str]) -> str:
    name = names.get(mpn, "")
    return f"{name} ({mpn})" if name else mpn


def guide_view(r: Report, names: dict[str, str]) -> dict[str, Any]:
    """The sections' figures, formatted once for text and HTML."""
    c = r.contact_sla
    pct = c.get("compliance_pct")
    return {
        "decline_partners": [
            {
                "label": _label(mpn, names),
                "decided": p["decided"],
                "declined": p["declined"],
                "rate": _pct(p["decline_rate"]),
                "reasons": ", ".join(f"{k} {v}" for k, v in p["by_reason"].items()) or "-",
            }
            for mpn, p in r.decline_rate_by_partner.items()
        ],
        "decline_reasons": [
            {
                "reason": reason,
                "declines": d["declines"],
                "rate": _pct(d["decline_rate"]),
                "share": _pct(d["share"]),
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
            "median": _hours(g["median_hours"]),
            "p90": _hours(g["p90_hours"]),
        }
        for key, g in groups.items()
    ]


def render_guide_text(r: Report, names: dict[str, str]) -> list[str]:
    g = guide_view(r, names)
    c = g["contact"]
    out = ["", "decline rate by partner:"]
    if g["decline_partners"]:
        partners = [
            (p["label"], p["decided"], p["declined"], p["rate"], p["reasons"])
            for p in g["decline_partners"]
        ]
        out.append(table(("partner", "decided", "declined", "rate", "reasons"), partners))
    else:
        out.append("  no decided assignments")
    out += ["", "decline rate by reason:"]
    if g["decline_reasons"]:
        reasons = [
            (d["reason"], d["declines"], d["rate"], d["share"]) for d in g["decline_reasons"]
        ]
        out.append(table(("reason", "declines", "rate", "share"), reasons))
    else:
        out.append("  no declines")
    out += [
        "",
        f"customer contact within {c['business_days']} business days of accept: {c['pct']} "
        f"(in time {c['in_time']}, late {c['late']}, overdue {c['overdue']}, "
        f"within the window {c['waiting']})",
    ]
    for title, key in (("type", "accept_by_type"), ("country", "accept_by_country")):
        out += ["", f"time to accept by {title}:"]
        if g[key]:
            groups = [(a["key"], a["accepted"], a["median"], a["p90"]) for a in g[key]]
            out.append(table((title, "accepted", "median", "p90"), groups))
        else:
            out.append("  no accepted assignments")
    out += ["", f"went to a CPOR claimant:  {g['cpor']} referral(s) or part(s)"]
    t = g["team_first"]
    out.append(
        f"account team contacted before kick-off (Microsoft requests): {t['pct']} "
        f"({t['before']} of {t['judged']})"
    )
    return out


def render_guide_html(r: Report, names: dict[str, str]) -> str:
    return _env.get_template(TEMPLATE).render(g=guide_view(r, names))
