"""`--help` texts: each command's examples and the input file formats, shown as its epilog."""

from __future__ import annotations

import argparse
import os
import sys

from domain.models import SEGMENTS, WORKLOADS

PARTNER_FORMAT = f"""\
FILE.json holds one partner profile or a list of them ('-' reads stdin):
  {{"mpn_id": "4711001", "name": "Contoso Cloud Services",
   "referral_contact": "referrals@contoso.example",
   "referral_ready": true, "benefit_referrals": true, "fasttrack_ready": true,
   "workloads": ["teams", "exchange"], "languages": ["en", "de"],
   "segments": ["commercial"], "min_seats": 150, "max_seats": 20000,
   "home_country": "US", "countries": ["CA"], "timezone": "America/New_York",
   "paused_until": null}}
  required: mpn_id, name, referral_contact, home_country (the rest have defaults)
  workloads: {" ".join(WORKLOADS)}
  segments: {" ".join(SEGMENTS)}
  languages: ISO 639-1 codes (en, de); countries: ISO 3166-1 alpha-2 codes (US, DE)
  paused_until: the last paused day, at most 90 days ahead (a past day: an ended pause)
  an existing partner keeps the fields it owns (languages, segments, seats, countries,
  paused_until, portal_users): only the program's are updated, unless --replace
  the file is checked as a whole first: one bad profile and nothing is written"""

REFERRAL_FORMAT = """\
FILE.json holds one referral or a list of them ('-' reads stdin):
  {"referral_id": "FT-2026-000123", "type": "benefit",
   "customer": {"name": "Fabrikam Ltd", "country": "DE", "language": "de",
                "segment": "commercial", "seats": 2400,
                "contact_email": "it@fabrikam.example"},
   "workloads": ["teams", "sharepoint"], "active_usage": {"teams": 0.18},
   "notes": "Wants Teams Phone.", "account_team": ["ae@microsoft.example"],
   "cpor_partner": "4711001"}
  required: type, customer (name, country, language, seats), workloads
  type: benefit or standard; referral_id is optional (generated if absent) and is the
  idempotency key: creating the same file twice starts each referral once
  the file is checked as a whole first: one bad referral and nothing is started"""

# Keyed by the command path after the program name; {cli} is the program's name.
EXAMPLES: dict[str, str] = {
    "partners import": f"""\
examples:
  {{cli}} partners import data/partners.json
  cat partners.json | {{cli}} partners import - --json
  {{cli}} partners import --replace data/partners.json   # lists the partner fields it overwrites

{PARTNER_FORMAT}""",
    "partners list": """\
examples:
  {cli} partners list
  {cli} partners list --country DE --workload teams --workload intune
  {cli} partners list --paused
  {cli} partners list --limit 20 --json""",
    "partners pause": """\
examples:
  {cli} partners pause 4711001 --until 2026-08-31
the pause covers its last day to midnight in the partner's time zone, at most 90 days ahead""",
    "partners resume": """\
examples:
  {cli} partners resume 4711001""",
    "partners token": """\
examples:
  {cli} partners token 4711001 > contoso.token
  {cli} partners token 4711001 --revoke""",
    "referral create": f"""\
examples:
  {{cli}} referral create data/referrals.json
  {{cli}} referral create many.json --concurrency 16 --json

{REFERRAL_FORMAT}""",
    "referral show": """\
examples:
  {cli} referral show FT-2026-000123
  {cli} referral show FT-2026-000123 --json | jq .status""",
    "referral list": """\
examples:
  {cli} referral list --status pending
  {cli} referral list --partner 4711001 --overdue
  {cli} referral list --limit 50            # then: --after TOKEN (printed) for the next 50
  {cli} referral list --all --json > referrals.json
  {cli} referral list --stuck               # waiting past every deadline, with why
by default at most 200 rows are shown; a note on stderr says when the list was cut""",
    "referral accept": """\
examples:
  {cli} referral accept FT-2026-000123 --partner 4711001""",
    "referral decline": """\
examples:
  {cli} referral decline FT-2026-000123 --partner 4711001 --reason partner_at_capacity
  {cli} referral decline FT-2026-000123 --partner 4711001 --reason other --note "..." """,
    "referral contacted": """\
examples:
  {cli} referral contacted FT-2026-000123 --partner 4711001""",
    "referral kickoff": """\
examples:
  {cli} referral kickoff FT-2026-000123 --partner 4711001""",
    "referral cpor-claimed": """\
examples:
  {cli} referral cpor-claimed FT-2026-000123 --partner 4711001""",
    "referral account-team-contacted": """\
examples:
  {cli} referral account-team-contacted FT-2026-000123 --partner 4711001""",
    "referral complete": """\
examples:
  {cli} referral complete FT-2026-000123 --partner 4711001 --vas-sold yes --vas-value 12000
  {cli} referral complete FT-2026-000123 --partner 4711001 --vas-sold no""",
    "referral retry": """\
examples:
  {cli} referral retry FT-2026-000123 --reason "new partner onboarded" """,
    "referral cancel": """\
examples:
  {cli} referral cancel FT-2026-000123 --reason "duplicate of FT-2026-000122" """,
    "report": """\
examples:
  {cli} report
  {cli} report --since 2026-01-01 --html report.html
  {cli} report --json | jq .answered_within_sla_pct""",
}

TOP_EXAMPLES = """\
examples:
  {cli} partners import data/partners.json
  {cli} referral create data/referrals.json
  {cli} referral list --status pending
  {cli} referral show FT-2026-000123
  {cli} report --html report.html
`{cli} COMMAND --help` shows each command's options, examples and input formats.
Output is coloured and fitted to the terminal; piped, it is plain text (NO_COLOR is honoured).
"""


def program_name() -> str:
    """`fasttrack` when installed as that command, else `starter.py`."""
    name = os.path.basename(sys.argv[0]) if sys.argv else ""
    return name if name.startswith("fasttrack") else "starter.py"


def add_examples(parser: argparse.ArgumentParser) -> None:
    """Give every subcommand of `parser` a description and its examples as the epilog."""
    cli = parser.prog.split(" ")[0]
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        for name, child in action.choices.items():
            text = helps.get(name) or ""
            if child.description is None and text:
                child.description = text[:1].upper() + text[1:] + "."
            path = child.prog.split(" ", 1)[1]
            if child.epilog is None and path in EXAMPLES:
                child.epilog = EXAMPLES[path].replace("{cli}", cli)
                child.formatter_class = argparse.RawDescriptionHelpFormatter
            add_examples(child)
