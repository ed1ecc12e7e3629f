"""Portal pages under a realistic read model: one partner holding 1,000 referrals, an operator
searching 10,000; latency of the rendered list and detail pages (p50 / p95 / p99).

    python -m bench.portal [--requests 300] [--live 20] [--locale de] [--out portal]

A dev server and the real worker run `live` referrals for the partner (their detail pages
query the running workflow); the other rows are written into the read model directly (a copy
of a live row's snapshot, with its own id, customer country and type), so that the lists have
their full size. Pages are requested in process through ASGI with a signed-in session cookie:
the time is routing, session lookup, queries, the `details` query and Jinja rendering.
`--locale`: both users have chosen that language, so every page is rendered translated.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import uvloop
from sqlalchemy import insert, select

from bench.common import (
    bench_referral,
    message_prefix,
    ms,
    open_stack,
    percentile,
    print_table,
    write_results,
)
from db.directory import PartnerDirectory
from db.models import AssignmentRecord, ReferralRecord
from db.portal_prefs import PreferenceStore
from db.portal_store import PortalStore
from domain import names
from domain.models import ReferralInput, ReferralSummary
from portal import create_app
from portal.session import SESSION_COOKIE
from worker import build_worker

PARTNER_ROWS = 1_000
ALL_ROWS = 10_000
COUNTRIES = ("DE", "AT", "CH", "FR", "NL", "IT", "ES", "PL")
OPERATOR = "bench-operator@ops.example"


async def _seed(sessions: Any, template_id: str, partner: str, other: str) -> None:
    """Copies of the template row: PARTNER_ROWS held by `partner`, the rest by `other`."""
    async with sessions() as session:
        row = (
            await session.scalars(
                select(ReferralRecord).where(ReferralRecord.workflow_id == template_id)
            )
        ).one()
        columns = {c.name: getattr(row, c.key) for c in ReferralRecord.__table__.columns}
    start = datetime.now(UTC) - timedelta(days=60)
    referrals, assignments = [], []
    for i in range(ALL_ROWS):
        holder = partner if i < PARTNER_ROWS else other
        wid = f"FT-SEED-{i:06d}"
        at = start + timedelta(minutes=8 * i)
        pending = i % 4 == 0
        referrals.append(
            {
                **columns,
                "workflow_id": wid,
                "referral_id": wid,
                "type": "benefit" if i % 2 else "standard",
                "status": "pending" if pending else ("active", "completed", "escalated")[i % 3],
                "partner_id": holder,
                "customer_country": COUNTRIES[i % len(COUNTRIES)],
                "sla_due_at": at + timedelta(days=2) if pending else None,
                "created_at": at,
                "updated_at": at,
            }
        )
        assignments.append(
            {
                "workflow_id": wid,
                "referral_id": wid,
                "seq": 1,
                "partner_id": holder,
                "outcome": "pending" if pending else ("accepted", "declined", "expired")[i % 3],
                "assigned_at": at,
                "due_at": at + timedelta(days=2),
                "reason": "",
                "note": "",
            }
        )
    async with sessions.begin() as session:
        for chunk in range(0, ALL_ROWS, 1000):
            await session.execute(insert(ReferralRecord), referrals[chunk : chunk + 1000])
            await session.execute(insert(AssignmentRecord), assignments[chunk : chunk + 1000])


async def _time(http: httpx.AsyncClient, paths: list[str], locale: str) -> list[float]:
    out = []
    for path in paths:
        started = time.perf_counter()
        r = await http.get(path)
        out.append(time.perf_counter() - started)
        if r.status_code != 200:
            raise RuntimeError(f"{path}: {r.status_code}")
        if r.headers.get("content-language") != locale:
            raise RuntimeError(f"{path}: in {r.headers.get('content-language')}, not {locale}")
    return out


def _row(page: str, samples: list[float]) -> dict[str, Any]:
    print(f"{page}: p99 {ms(percentile(samples, 0.99))} ms", flush=True)
    return {
        "page": page,
        "requests": len(samples),
        "p50_ms": ms(percentile(samples, 0.50)),
        "p95_ms": ms(percentile(samples, 0.95)),
        "p99_ms": ms(percentile(samples, 0.99)),
    }


async def measure(requests: int, live: int, locale: str) -> dict[str, Any]:
    async with open_stack(partners=2) as stack:
        settings = replace(stack.settings, task_queue=stack.queue("portal"))
        worker = build_worker(stack.client, settings, stack.sessions)
        async with worker:
            ids = []
            for i in range(live):
                rid = f"FT-LIVE-{i:04d}"
                await stack.client.start_workflow(
                    names.WORKFLOW_REFERRAL,
                    ReferralInput(bench_referral(rid, i)),
                    id=rid,
                    task_queue=settings.task_queue,
                    result_type=ReferralSummary,
                )
                arrival = await stack.sink.wait_id(message_prefix(rid, 1, "notification"))
                ids.append((rid, arrival))
            async with stack.sessions() as session:
                holders = {
                    r.workflow_id: r.partner_id
                    for r in await session.scalars(select(ReferralRecord))
                }
            partner = str(holders[ids[0][0]])
            mine = [rid for rid, _ in ids if holders[rid] == partner]
            others = {str(p) for p in holders.values() if p and p != partner}
            other = min(others) if others else partner
            print(f"{live} live referrals running; seeding {ALL_ROWS} rows", flush=True)
            await _seed(stack.sessions, ids[0][0], partner, other)
            print("seeded", flush=True)
            store = PortalStore(stack.sessions)
            now = datetime.now(UTC)
            record = await PartnerDirectory(stack.sessions).get(partner)
            assert record is not None
            contact = record.profile.referral_contact  # each request checks it is still there
            partner_sid, _ = await store.open_session(contact, "partner", partner, now)
            operator_sid, _ = await store.open_session(OPERATOR, "operator", None, now)
            for email in (contact, OPERATOR):
                await PreferenceStore(stack.sessions).set_locale(email, locale, now)
            app = create_app(
                replace(settings, operator_emails=(OPERATOR,)), stack.client, stack.sessions
            )
            rng = random.Random(7)
            transport = httpx.ASGITransport(app=app)
            rows = []
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                http.cookies.set(SESSION_COOKIE, partner_sid)
                pages = PARTNER_ROWS // 25
                await _time(http, ["/referrals", f"/referrals/{mine[0]}"], locale)  # warm up
                rows.append(
                    _row(
                        "partner list (1,000 held, 25 a page)",
                        await _time(
                            http,
                            [f"/referrals?page={rng.randint(1, pages)}" for _ in range(requests)],
                            locale,
                        ),
                    )
                )
                rows.append(
                    _row(
                        "partner list, filtered (status, type)",
                        await _time(
                            http, ["/referrals?status=pending&type=benefit"] * requests, locale
                        ),
                    )
                )
                rows.append(
                    _row(
                        "partner referral detail (live workflow)",
                        await _time(
                            http,
                            [f"/referrals/{rng.choice(mine)}" for _ in range(requests)],
                            locale,
                        ),
                    )
                )
                http.cookies.set(SESSION_COOKIE, operator_sid)
                rows.append(
                    _row(
                        "operator search (10,000, 50 a page)",
                        await _time(
                            http,
                            [f"/ops/referrals?page={rng.randint(1, 200)}" for _ in range(requests)],
                            locale,
                        ),
                    )
                )
                rows.append(
                    _row(
                        "operator search, filtered (country, overdue)",
                        await _time(
                            http,
                            [
                                f"/ops/referrals?country={rng.choice(COUNTRIES)}&overdue=yes"
                                for _ in range(requests)
                            ],
                            locale,
                        ),
                    )
                )
    table = print_table(rows, ["page", "requests", "p50_ms", "p95_ms", "p99_ms"], "portal pages")
    return {"rows": rows, "table": table, "live": live, "requests": requests, "locale": locale}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.portal", description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--live", type=int, default=20)
    parser.add_argument("--locale", default="en", help="the language both users chose (en)")
    parser.add_argument("--out", default="portal")
    args = parser.parse_args(argv)
    write_results(args.out, uvloop.run(measure(args.requests, args.live, args.locale)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
