"""The portal's web pages over HTTP (ASGI) against the time-skipping server and a real worker:
sign-in by emailed link, sessions, CSRF, the partner's referral pages and its actions."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage

import httpx
import pytest_asyncio
from sqlalchemy import update

from db.directory import PartnerDirectory
from db.models import Partner
from domain.models import TrackRecord
from domain.pauses import latest_pause_day
from mail.report_page import render_html
from portal import create_app
from tests import report_samples
from tests.factories import partner, referral
from tests.harness import Harness
from tests.test_portal import eventually, unique

OPERATOR = "ops-lead@microsoft.example"


@pytest_asyncio.fixture
async def web(h: Harness) -> AsyncIterator[httpx.AsyncClient]:
    settings = replace(h.settings, operator_emails=(OPERATOR,), portal_url="http://portal")
    app = create_app(settings, h.client, h.sessions)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://portal") as http:
        yield http


def body_text(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def version_of(html: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', html)
    assert found, html
    return found.group(1)


async def sign_in(h: Harness, web: httpx.AsyncClient, email: str, next_path: str = "/") -> str:
    """Request a link, open it from the email, confirm; returns where it led."""
    form = await web.get("/signin", params={"next": next_path})
    before = len(h.sink.messages)
    r = await web.post(
        "/signin", data={"email": email, "next": next_path, "csrf": csrf_of(form.text)}
    )
    assert r.status_code == 200 and "sign-in link is on its way" in r.text
    msg = await h.wait_mail(lambda m: m in h.sink.messages[before:] and email in str(m["To"]))
    link = re.search(r"http://portal(/signin/\S+)", body_text(msg))
    assert link
    page = await web.get(link.group(1))
    assert page.status_code == 200 and email in page.text
    done = await web.post(link.group(1), data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303
    assert "httponly" in done.headers["set-cookie"].lower()
    assert "samesite=lax" in done.headers["set-cookie"].lower()
    return done.headers["location"]


async def test_sign_in_link_works_once_and_unknown_addresses_get_the_same_answer(
    h: Harness, web: httpx.AsyncClient
) -> None:
    await h.partners(partner("2001"))
    target = await sign_in(h, web, "referrals-2001@partner.example", "/referrals")
    assert target == "/referrals"
    page = await web.get("/referrals")
    assert page.status_code == 200 and "Referrals" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]

    signout = await web.post("/signout", data={"csrf": csrf_of(page.text)})
    assert signout.status_code == 303
    assert (await web.get("/referrals")).status_code == 303

    form = await web.get("/signin")
    before = len(h.sink.messages)
    r = await web.post(
        "/signin", data={"email": "nobody@else.example", "next": "/", "csrf": csrf_of(form.text)}
    )
    assert r.status_code == 200 and "sign-in link is on its way" in r.text
    assert len(h.sink.messages) == before
    no_csrf = await web.post("/signin", data={"email": "nobody@else.example"})
    assert no_csrf.status_code == 403


async def test_partner_accepts_and_completes_through_the_pages(
    h: Harness, web: httpx.AsyncClient
) -> None:
    await h.partners(partner("2002"), partner("2003"))
    handle = await h.start(referral(unique("FT-W")))
    rid = handle.id
    mpn = await h.assigned(handle)
    await sign_in(h, web, f"referrals-{mpn}@partner.example")

    async def listed() -> bool:
        return rid in (await web.get("/referrals")).text

    await eventually(listed)
    page = await web.get(f"/referrals/{rid}")
    assert page.status_code == 200, page.text
    assert "Fabrikam Ltd" in page.text and "Wants Teams Phone" in page.text
    assert 'id="form-accept"' in page.text
    # why: both partners newcomers (track-record ranking), the lowest MPN ID broke the tie
    why = page.text.split("Why this referral came to you")[1].split("</ul>")[0]
    assert "You had no offer yet" in why and "Another newcomer was eligible too" in why
    assert "the lowest MPN ID comes first" in why

    csrf = csrf_of(page.text)
    no_csrf = await web.post(f"/referrals/{rid}/accept", data={"nonce": "n1"})
    assert no_csrf.status_code == 403
    refused = await web.post(
        f"/referrals/{rid}/decline",
        data={"csrf": csrf, "nonce": "n2", "reason": "customer_prefers_fasttrack_center"},
    )
    assert refused.status_code == 409 and "FastTrack" in refused.text
    assert (await h.state(handle)).status == "pending"

    for _ in range(2):  # the same nonce twice: applied once, answered the same
        r = await web.post(f"/referrals/{rid}/accept", data={"csrf": csrf, "nonce": "a1"})
        assert r.status_code == 303, r.text
    accepted = [e for e in (await h.state(handle)).history if e.action == "accepted"]
    assert len(accepted) == 1
    for action, fields in [
        ("contacted", {"note": "called"}),
        ("account_team_contacted", {}),
        ("kickoff", {}),
        ("cpor_claimed", {}),
        ("complete", {"vas_sold": "maybe"}),
    ]:
        r = await web.post(
            f"/referrals/{rid}/{action}", data={"csrf": csrf, "nonce": action, **fields}
        )
        if action == "complete":
            assert r.status_code == 422 and "Say whether value-added services" in r.text
        else:
            assert r.status_code == 303, r.text
    r = await web.post(
        f"/referrals/{rid}/complete",
        data={"csrf": csrf, "nonce": "c2", "vas_sold": "yes", "vas_value": "12000", "notes": "ok"},
    )
    assert r.status_code == 303
    done = await h.state(handle)
    assert done.status == "completed" and done.milestones.account_team_contacted_at is not None

    other_page = await web.get(f"/referrals/{rid}x")
    assert other_page.status_code == 404


async def test_profile_edits_are_validated_audited_and_pause_is_bounded(
    h: Harness, web: httpx.AsyncClient
) -> None:
    await h.partners(partner("2004"))
    await sign_in(h, web, "referrals-2004@partner.example")
    page = await web.get("/profile")
    assert page.status_code == 200 and "program support" in page.text.lower()
    assert "Your track record" in page.text and "What would raise it" in page.text
    csrf, version = csrf_of(page.text), version_of(page.text)
    bad = await web.post(
        "/profile",
        data={"csrf": csrf, "languages": "en, xx", "min_seats": "10", "max_seats": "5"},
    )
    assert bad.status_code == 422 and "Unknown language code: xx" in bad.text
    assert "must not be below" in bad.text
    r = await web.post("/profile", data={"csrf": csrf, "version": "²", "languages": "en"})
    assert r.status_code == 409  # a form version that is no number is not the current one
    for seats in ("3000000000", "²", "9" * 5000):  # beyond the seat columns, not ASCII, huge
        r = await web.post("/profile", data={"csrf": csrf, "min_seats": seats})
        assert r.status_code == 422 and "Enter a whole number of seats." in r.text
    ok = await web.post(
        "/profile",
        data={
            "csrf": csrf,
            "version": version,
            "languages": "en, fr, EN",  # the same code twice, in two cases: once
            "segments": "education",
            "min_seats": "10",
            "max_seats": "",
            "countries": "AT, CH, at",
        },
    )
    assert ok.status_code == 303
    record = await PartnerDirectory(h.sessions).get("2004")
    assert record is not None
    assert record.profile.languages == ["en", "fr"] and "education" in record.profile.segments
    assert record.profile.countries == ["AT", "CH"] and record.profile.max_seats is None
    assert (
        "profile updated by partner:2004 (referrals-2004@partner.example)"
        in (await web.get("/profile")).text
    )
    last = latest_pause_day("Europe/Berlin", datetime.now(UTC))  # the partner's own calendar
    far = (last + timedelta(days=1)).isoformat()
    assert (await web.post("/profile/pause", data={"csrf": csrf, "until": far})).status_code == 422
    soon = (date.today() + timedelta(days=5)).isoformat()
    assert (await web.post("/profile/pause", data={"csrf": csrf, "until": soon})).status_code == 303
    record = await PartnerDirectory(h.sessions).get("2004")
    assert record is not None and record.profile.paused_until == date.fromisoformat(soon)
    assert (await web.post("/profile/resume", data={"csrf": csrf})).status_code == 303


async def test_operator_retries_an_escalation_and_reads_every_page(
    h: Harness, web: httpx.AsyncClient
) -> None:
    handle = await h.start(referral(unique("FT-E"), workloads=["purview"]))
    rid = handle.id
    await h.until(handle, lambda s: s.status == "escalated")
    assert await sign_in(h, web, OPERATOR) == "/ops/escalations"

    async def shown() -> bool:
        return rid in (await web.get("/ops/escalations")).text

    await eventually(shown)
    page = await web.get("/ops/escalations")
    await h.partners(partner("2005", workloads=["purview", "teams", "sharepoint"]))
    r = await web.post(
        f"/ops/escalations/{rid}/retry",
        data={"csrf": csrf_of(page.text), "nonce": "x1", "reason": "partner added"},
    )
    assert r.status_code == 303, r.text
    assert await h.assigned(handle) == "2005"
    state = await h.state(handle)
    assert any(e.actor == f"operator:{OPERATOR}" for e in state.history), state.history
    for path in ("/ops/referrals?overdue=yes", "/ops/referrals?partner=2005", "/ops/partners"):
        assert (await web.get(path)).status_code == 200, path
    scores = (await web.get("/ops/partners")).text
    assert "Scores:" in scores and "band" in scores
    assert rid in (await web.get("/ops/referrals")).text
    assert rid in (await web.get("/ops/referrals", params={"partner": "2005"})).text
    assert rid not in (await web.get("/ops/referrals", params={"status": "completed"})).text
    detail = await web.get("/ops/partners/2005")
    assert detail.status_code == 200
    issued = await web.post("/ops/partners/2005/token", data={"csrf": csrf_of(detail.text)})
    assert issued.status_code == 200 and "ftp_" in issued.text
    reports = await web.get("/ops/reports")
    assert reports.status_code == 200 and "Trends by week" in reports.text
    assert (await web.get("/referrals")).status_code == 404  # operators have no partner pages


async def test_operators_see_who_needs_attention_and_the_partner_sees_the_field_to_fix(
    h: Harness, web: httpx.AsyncClient
) -> None:
    await h.partners(partner("2006"), partner("2007"))
    records = {
        "2006": TrackRecord(  # 24 judged offers, none delivered: below the floor
            offers=24, expired=20, declined_partner=4, declined_customer_type=3
        ),
        "2007": TrackRecord(offers=20, accepted=20, completed=20),
    }
    async with h.sessions() as session, session.begin():
        for mpn_id, record in records.items():
            await session.execute(
                update(Partner).where(Partner.mpn_id == mpn_id).values(track_record=asdict(record))
            )
    await sign_in(h, web, OPERATOR)
    page = (await web.get("/ops/partners")).text
    attention = page.split('id="attention"')[1].split("</section>")[0]
    assert "2006" in attention and "2007" not in attention
    assert "24 offers, 20 expired, 4 declined by the partner, 0 completed" in attention
    assert page.count("needs attention") == 1  # the badge on 2006's row only
    web.cookies.clear()
    await sign_in(h, web, "referrals-2006@partner.example")
    own = (await web.get("/profile")).text.split('id="track-record"')[1]
    assert "below the floor" in own
    assert "3 declines said the customer type is not supported: fix the segments" in own
    assert "20 offers expired unanswered" in own


async def test_sign_in_requests_past_the_address_limit_are_answered_as_usual(
    h: Harness, web: httpx.AsyncClient
) -> None:
    form = await web.get("/signin")
    csrf = csrf_of(form.text)
    codes = []
    for _ in range(6):
        r = await web.post("/signin", data={"email": "flood@else.example", "csrf": csrf})
        codes.append(r.status_code)
    assert codes == [200] * 6  # no lock-out for the address's owner (the client has its limit)
    other = await web.post("/signin", data={"email": "calm@else.example", "csrf": csrf})
    assert other.status_code == 200


async def test_the_reports_page_uses_the_configured_contact_window_and_shows_split_parts(
    h: Harness,
) -> None:
    """As `report` does: SLA_BUSINESS_DAYS for the customer-contact figure, and split parts
    by status beside the referrals."""
    settings = replace(
        h.settings, operator_emails=(OPERATOR,), portal_url="http://portal", sla_business_days=3
    )
    transport = httpx.ASGITransport(app=create_app(settings, h.client, h.sessions))
    async with httpx.AsyncClient(transport=transport, base_url="http://portal") as web:
        await sign_in(h, web, OPERATOR)
        page = await web.get("/ops/reports")
    assert page.status_code == 200 and "(3 business days)" in page.text
    assert "Split parts" in render_html(report_samples.full_report(), report_samples.NAMES)
