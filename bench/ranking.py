"""Ranking simulation: `python -m bench.ranking [--referrals 10000] [--seed 7] [--grid]`.

A year of referrals on the pure functions (`domain.matching.evaluate`, `domain.track_record`;
no Temporal, no database): 60 partners with hidden behaviour (chance to let an offer expire,
time to answer, chance to accept, chance to deliver), 5 newcomers joining mid-year, SLAs of 2
business days (`domain.business_days`). The same referrals and the same partner behaviour
(seeded per partner and referral) run once with `RANKING=rotation` and once with
`track_record`. Prints a table and writes bench/results/ranking.json. `--grid` also tries
other band / floor / prior-weight settings.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from domain.business_days import add_business_days
from domain.matching import MatchContext, evaluate, first_failed
from domain.models import Customer, MatchRequest, PartnerLoad, PartnerProfile, Referral
from domain.track_record import (
    Ranking,
    RankingTerms,
    add,
    below_floor,
    offer_changes,
    program_average,
    standing,
)

RESULTS = Path(__file__).resolve().parent / "results" / "ranking.json"
START = datetime(2026, 1, 5, tzinfo=UTC)
YEAR = timedelta(days=365)
COUNTRIES = {"US": "en", "DE": "de", "GB": "en"}
WORKLOADS = ("teams", "exchange", "sharepoint", "intune")
# hidden behaviour: (share, silent, answer mean hours, accept, deliver)
KINDS = {
    "reliable": (0.40, 0.02, 5.0, 0.85, 0.92),
    "average": (0.30, 0.10, 14.0, 0.65, 0.78),
    "slow": (0.15, 0.30, 30.0, 0.50, 0.60),
    "ghost": (0.15, 0.70, 40.0, 0.40, 0.40),
}
PARTNER_SIDE = ("partner_at_capacity", "other", "customer_type_not_supported")
CUSTOMER_SIDE = ("customer_unresponsive", "customer_working_with_other_partner")


@dataclass
class Behaviour:
    kind: str
    silent: float
    answer_hours: float
    accept: float
    deliver: float


@dataclass
class SimPartner:
    profile: PartnerProfile
    load: PartnerLoad
    behaviour: Behaviour
    joins: datetime
    offers: int = 0
    eligible_seen: int = 0  # referrals it was eligible for
    equal_share: float = 0.0  # offers it would have had, shared equally within its band
    wait: int | None = None  # eligible referrals before its first offer (newcomers)


@dataclass
class Outcome:
    offers: int = 0
    first_accepted: bool = False
    accepted_after_h: float | None = None
    accepted: int = 0  # accepted engagements
    delivered: int = 0
    escalated: bool = False


@dataclass
class Totals:
    referrals: list[Outcome] = field(default_factory=list)


def make_partners(seed: int) -> list[SimPartner]:
    rng = random.Random(seed)
    out: list[SimPartner] = []
    kinds = list(KINDS)
    for i in range(65):
        kind = rng.choices(kinds, weights=[KINDS[k][0] for k in kinds])[0]
        _, silent, hours, accept, deliver = KINDS[kind]
        home = rng.choice(list(COUNTRIES))
        served = sorted({home, *rng.sample(list(COUNTRIES), rng.randint(0, 2))})
        mpn = f"{5100000 + i}"
        profile = PartnerProfile(
            mpn_id=mpn,
            name=f"Partner {i}",
            referral_contact=f"r@{mpn}.example",
            workloads=sorted(rng.sample(WORKLOADS, rng.randint(2, 4))),
            languages=sorted({COUNTRIES[c] for c in served}),
            home_country=home,
            countries=[c for c in served if c != home],
            max_open_referrals=rng.choice((None, None, None, 25, 40)),
        )
        behaviour = Behaviour(
            kind,
            min(0.95, max(0.0, silent + rng.uniform(-0.05, 0.05))),
            hours * rng.uniform(0.6, 1.5),
            min(0.98, max(0.05, accept + rng.uniform(-0.08, 0.08))),
            min(0.99, max(0.05, deliver + rng.uniform(-0.08, 0.08))),
        )
        joins = START + timedelta(days=182) if i >= 60 else START
        out.append(SimPartner(profile, PartnerLoad(mpn), behaviour, joins))
    return out


def make_referral(rng: random.Random, n: int) -> tuple[datetime, Referral]:
    at = START + timedelta(seconds=rng.uniform(0, YEAR.total_seconds()))
    country = rng.choice(list(COUNTRIES))
    referral = Referral(
        referral_id=f"FT-SIM-{n:05d}",
        type="standard",
        customer=Customer("Customer", country, COUNTRIES[country], "commercial", 500),
        workloads=sorted(rng.sample(WORKLOADS, rng.choice((1, 1, 2)))),
    )
    return at, referral


def simulate(terms: RankingTerms, n_referrals: int, seed: int) -> dict[str, Any]:
    partners = make_partners(seed)
    by_id = {p.profile.mpn_id: p for p in partners}
    rng = random.Random(seed + 1)
    arrivals = sorted(make_referral(rng, n) for n in range(n_referrals))
    events: list[tuple[datetime, int, str, Any]] = []
    tie = 0

    def push(at: datetime, kind: str, data: Any) -> None:
        nonlocal tie
        tie += 1
        heapq.heappush(events, (at, tie, kind, data))

    for at, referral in arrivals:
        push(at, "arrive", (referral, Outcome(), at, []))
    outcomes: list[Outcome] = []

    def record(p: SimPartner, before: str | None, after: str, reason: str, accepted: bool):
        changes = offer_changes(before, after, reason, accepted)
        p.load.record = add(p.load.record, changes)

    def offer(at: datetime, item: tuple[Referral, Outcome, datetime, list[str]]) -> None:
        referral, out, _created, excluded = item
        present = [p for p in partners if p.joins <= at]
        candidates = [(p.profile, p.load) for p in present]
        request = MatchRequest(referral, referral.referral_id, referral.workloads,
                               out.offers + 1, list(excluded), at, allow_split=False)  # fmt: skip
        ranking = Ranking(terms, program_average(p.load.record for p in present))
        result = evaluate(candidates, request, (), ranking)
        ctx = MatchContext.of(request, candidates)
        eligible = [p for p in present if first_failed(p.profile, ctx) is None]
        if result.partner is not None:
            won = standing(by_id[result.partner.mpn_id].load.record, ranking)
            band = [p for p in eligible if standing(p.load.record, ranking) == won]
            for p in band:
                p.equal_share += 1 / len(band)
        for p in eligible:
            p.eligible_seen += 1
            if p.offers == 0 and p.joins > START:
                p.wait = (p.wait or 0) + 1
        if result.partner is None:
            out.escalated = True
            return
        p = by_id[result.partner.mpn_id]
        p.offers += 1
        out.offers += 1
        p.load.open_assignments += 1
        p.load.last_assigned_at = at
        record(p, None, "pending", "", False)
        prng = random.Random(f"{seed}-{referral.referral_id}-{out.offers}")
        b = p.behaviour
        due = add_business_days(at, 2, p.profile.home_country, "UTC")
        answer_at = at + timedelta(hours=prng.expovariate(1 / b.answer_hours))
        if prng.random() < b.silent or answer_at > due:
            push(due, "expire", (p, item))
        elif prng.random() < 0.06:  # the customer's side: the same for every partner
            push(answer_at, "decline", (p, item, prng.choice(CUSTOMER_SIDE)))
        elif prng.random() < b.accept:
            push(answer_at, "accept", (p, item, prng.random() < b.deliver, prng))
        else:
            push(answer_at, "decline", (p, item, prng.choice(PARTNER_SIDE)))

    end = START + YEAR + timedelta(days=60)
    while events:
        at, _, kind, data = heapq.heappop(events)
        if at > end:
            break
        if kind == "arrive":
            outcomes.append(data[1])
            offer(at, data)
        elif kind in ("expire", "decline"):
            p, item = data[0], data[1]
            p.load.open_assignments -= 1
            reason = data[2] if kind == "decline" else ""
            record(p, "pending", "expired" if kind == "expire" else "declined", reason, False)
            item[3].append(p.profile.mpn_id)
            offer(at, item)
        elif kind == "accept":
            p, item, delivers, prng = data
            out = item[1]
            out.first_accepted = out.offers == 1
            out.accepted_after_h = (at - item[2]).total_seconds() / 3600
            record(p, "pending", "accepted", "", True)
            out.accepted += 1
            later = at + timedelta(days=prng.uniform(10, 40) if delivers else prng.uniform(3, 20))
            push(later, "finish", (p, item, delivers))
        elif kind == "finish":
            p, item, delivers = data
            p.load.open_assignments -= 1
            if delivers:
                item[1].delivered += 1
                record(p, "accepted", "completed", "", True)
            else:
                record(p, "accepted", "declined", "other", True)
                item[3].append(p.profile.mpn_id)
                offer(at, item)
    return measures(terms, partners, outcomes)


def gini(values: Sequence[float]) -> float:
    xs = sorted(values)
    n, total = len(xs), sum(xs)
    if n == 0 or total == 0:
        return 0.0
    return sum((2 * i - n - 1) * x for i, x in enumerate(xs, start=1)) / (n * total)


def measures(terms: RankingTerms, partners: list[SimPartner], outs: list[Outcome]) -> dict:
    ranking = Ranking(terms, program_average(p.load.record for p in partners))
    above = [p for p in partners if not below_floor(p.load.record, ranking) and p.eligible_seen]
    judged = [p for p in above if p.equal_share >= 5]  # too few offers to judge a share
    smallest = min(p.offers / p.equal_share for p in judged)
    accepted = [o.accepted_after_h for o in outs if o.accepted_after_h is not None]
    newcomers = [p.wait for p in partners if p.joins > START]
    return {
        "ranking": terms.mode,
        "referrals": len(outs),
        "offers_per_referral": round(sum(o.offers for o in outs) / len(outs), 3),
        "first_offer_accepted": round(sum(o.first_accepted for o in outs) / len(outs), 3),
        "median_hours_to_accept": round(statistics.median(accepted), 1),
        "delivered": round(sum(o.delivered for o in outs) / sum(o.accepted for o in outs), 3),
        "escalated": sum(o.escalated for o in outs),
        "gini_above_floor": round(gini([p.offers for p in above]), 3),
        "smallest_share_of_equal": round(smallest, 2),
        "below_floor": len(partners) - len(above),
        "newcomer_waits": newcomers,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ranking", description=__doc__)
    parser.add_argument("--referrals", type=int, default=10_000)
    parser.add_argument("--seeds", default="7,11,13", help="comma-separated seeds")
    parser.add_argument("--grid", action="store_true")
    args = parser.parse_args(argv)
    chosen = RankingTerms(mode="track_record")  # the defaults of RANKING_* (settings.py)
    variants = [chosen]
    if args.grid:
        variants += [
            RankingTerms("track_record", band, floor, weight)
            for band in (0.05, 0.1)
            for floor in (0.2, 0.3)
            for weight in (4.0, 8.0, 16.0)
            if (band, floor, weight) != (chosen.band, chosen.floor, chosen.prior_weight)
        ]
    rows = []
    for seed in (int(x) for x in args.seeds.split(",")):
        base = simulate(RankingTerms(mode="rotation"), args.referrals, seed)
        rows.append(base | {"seed": seed})
        print(json.dumps(rows[-1]), flush=True)
        for terms in variants:
            row = simulate(terms, args.referrals, seed) | {"seed": seed}
            row |= {"band": terms.band, "floor": terms.floor, "prior_weight": terms.prior_weight}
            before, after = base["offers_per_referral"] - 1, row["offers_per_referral"] - 1
            row["fewer_reassignments"] = round(1 - after / before, 3) if before else 0.0
            row["goal_met"] = (
                row["fewer_reassignments"] >= 0.25
                and all(w is not None and w <= 3 for w in row["newcomer_waits"])
                and row["smallest_share_of_equal"] >= 0.5
            )
            rows.append(row)
            print(json.dumps(row), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"referrals": args.referrals, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
