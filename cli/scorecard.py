"""`partners scorecard [MPN_ID] [--json]`: each partner's track record and score, with the
program's average (`domain.track_record` says what the score means)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from activities.matching import ranking_terms
from cli.common import mpn_id
from cli.context import Context
from cli.errors import not_found
from cli.output import Column, print_json, print_table, say
from db.track_record import scorecards
from domain import track_record as tr

COLUMNS = (
    Column("mpn", keep=True),
    Column("name", min_width=12),
    Column("score", keep=True, right=True),
    Column("band", keep=True),
    Column("standing", keep=True),
    Column("offers", right=True),
    Column("accepted", right=True, drop=2),
    Column("expired", right=True),
    Column("declined", right=True, drop=1),
    Column("completed", right=True),
)


def register(psub: Any) -> None:
    p = psub.add_parser("scorecard", help="partners' track records and scores")
    p.add_argument("mpn", type=mpn_id, nargs="?", metavar="MPN_ID", help="one partner")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=scorecard)


async def scorecard(ctx: Context, args: argparse.Namespace) -> int:
    ranking, found = await scorecards(await ctx.sessions(), ranking_terms(ctx.settings))
    if args.mpn:
        found = [row for row in found if row[0] == args.mpn]
        if not found:
            raise not_found(f"partner {args.mpn} is not in the directory")
    cards = [(name, record, tr.scorecard(mpn, record, ranking)) for mpn, name, record in found]
    if args.json:
        print_json(
            {
                "ranking": ranking.terms.mode,
                "program_average": ranking.average,
                "band_width": ranking.terms.band,
                "floor": ranking.terms.floor,
                "partners": [
                    {
                        **asdict(card),
                        "name": name,
                        "record": asdict(record),
                        "advice": tr.advice(record, ranking),
                    }
                    for name, record, card in cards
                ],
            }
        )
        return 0
    say(
        f"program average {ranking.average:.2f}; ranking {ranking.terms.mode}; "
        f"bands of {ranking.terms.band:g}; floor {ranking.terms.floor:g} "
        f"(after {tr.FLOOR_AFTER} judged offers)"
    )
    print_table(
        COLUMNS,
        [
            (
                card.mpn_id,
                name,
                f"{card.score:.2f}",
                card.band,
                card.standing.replace("_", " "),
                record.offers,
                record.accepted,
                record.expired,
                record.declined_partner,
                record.completed,
            )
            for name, record, card in cards
        ],
    )
    if args.mpn and cards:
        for line in tr.advice(cards[0][1], ranking):
            say(f"- {line}")
    return 0
