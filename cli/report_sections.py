"""The report's sections answering the guide's questions (decline rates, customer-contact
SLA, time to accept by type and country, CPOR claimants) as text; the figures are formatted
once by `mail.report_page.guide_view`, which the HTML report shares."""

from __future__ import annotations

from cli.output import table
from domain.report import Report
from mail.report_page import guide_view


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
