"""The partner portal over HTTP (ASGI) against the time-skipping Temporal server, a real worker
and a real database."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest_asyncio
from pydantic import SecretStr
from temporalio.client import Client

from db.tokens import TokenStore
from domain.links import LinkClaims, sign_link
from domain.policy import ANSWER_ACCOUNT_TEAM, ANSWER_FASTTRACK_CENTER
from portal import create_app
from tests.factories import partner, referral
from tests.harness import Harness

ADMIN = "admin-secret-token"


@dataclass
class Portal:
    h: Harness
    http: httpx.AsyncClient

    async def token(self, mpn_id: str) -> dict[str, str]:
        token = await TokenStore(self.h.sessions).issue(mpn_id, datetime.now(UTC))
        return {"Authorization": f"Bearer {token}"}

    async def history_len(self, workflow_id: str) -> int:
        return len((await self.h.state(workflow_id)).history)


def unique(name: str) -> str:
    """Workflow ids are unique per test run: the Temporal server outlives each test."""
    return f"{name}-{uuid.uuid4().hex[:6]}"


def portal_client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal")


@pytest_asyncio.fixture
async def p(h: Harness) -> AsyncIterator[Portal]:
    settings = replace(h.settings, portal_admin_token=SecretStr(ADMIN))
    async with portal_client(create_app(settings, h.client, h.sessions)) as http:
        yield Portal(h, http)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def listed(p: Portal, headers: dict[str, str], rid: str, **fields: Any) -> dict[str, Any]:
    """Wait until the caller's list shows `rid` with `fields` (the read model follows the
    workflow asynchronously)."""
    found: dict[str, Any] = {}

    async def check() -> bool:
        r = await p.http.get("/api/referrals", headers=headers)
        assert r.status_code == 200
        rows = [x for x in r.json() if x["id"] == rid]
        if rows and all(rows[0][k] == v for k, v in fields.items()):
            found.update(rows[0])
            return True
        return False

    await eventually(check)
    return found


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = r.json()
    assert set(body) == {"error", "message"} and body["error"] == code, body
    assert body["message"]
    return body


# --------------------------------------------------------------------------- lifecycle


async def test_list_detail_and_full_lifecycle(p: Portal) -> None:
    await p.h.partners(partner("1001", timezone="America/New_York"))
    handle = await p.h.start(referral(unique("FT-P")))
    rid = handle.id
    assert await p.h.assigned(handle) == "1001"
    me = await p.token("1001")

    row = await listed(p, me, rid, current=True, status="pending")
    assert row["due_at"] and row["customer_name"] == "Fabrikam Ltd" and row["seats"] == 2400

    url = f"/api/referrals/{rid}"
    r = await p.http.get(url, headers=me)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["customer"]["name"] == "Fabrikam Ltd" and d["customer"]["contact_email"]
    assert d["workloads"] == ["teams", "sharepoint"]
    assert d["active_usage"] == {"teams": 0.18, "sharepoint": 0.05}
    assert d["notes"].startswith("Wants Teams Phone")
    assert d["current"] is True and d["source"] == "live"
    assert d["due"]["timezone"] == "America/New_York"
    assert d["due"]["local"].endswith(("EST", "EDT"))
    assert d["due"]["utc"] == d["assignment"]["due_at"]
    assert [h["action"] for h in d["history"]][:2] == ["created", "assigned"]
    assert set(d["history"][0]) == {"at", "actor", "action", "detail", "refused"}

    for step, body in [
        ("accept", None),
        ("contacted", {"note": "called with the account team"}),
        ("account-team-contacted", None),
        ("kickoff", None),
        ("cpor-claimed", {}),
        ("complete", {"vas_sold": True, "vas_value": 12000, "notes": "Migrated"}),
    ]:
        r = await p.http.post(f"/api/referrals/{rid}/{step}", headers=me, json=body)
        assert r.status_code == 200, (step, r.text)
    assert r.json() == {"id": rid, "status": "completed", "message": "complete recorded"}

    d = (await p.http.get(f"/api/referrals/{rid}", headers=me)).json()
    assert d["status"] == "completed"
    assert d["completion"]["vas_sold"] is True and d["completion"]["vas_value"] == 12000
    assert d["milestones"]["contacted_at"] and d["milestones"]["kickoff_at"]
    assert d["milestones"]["cpor_claimed_at"]
    assert d["milestones"]["account_team_contacted_at"]
    assert d["due"] is None and d["current"] is False
    assert "accepted" in [h["action"] for h in d["history"]]

    await p.h.client.get_workflow_handle(rid).result()
    ended = assert_error(await p.http.post(f"{url}/kickoff", headers=me), 409, "closed")
    assert ended["message"] == f"referral {rid} is already completed"
    await listed(p, me, rid, status="completed")
    r = await p.http.get("/api/referrals", params={"status": "completed"}, headers=me)
    assert [x["id"] for x in r.json()] == [rid]
    r = await p.http.get("/api/referrals", params={"status": "pending"}, headers=me)
    assert r.json() == []
    assert_error(
        await p.http.get("/api/referrals", params={"status": "nope"}, headers=me),
        422,
        "invalid_request",
    )


# ----------------------------------------------------------------------- authorization


async def test_authorization_matrix(p: Portal) -> None:
    await p.h.partners(partner("1001"), partner("1002", workloads=["intune"]))
    handle = await p.h.start(referral(unique("FT-P")))
    rid = handle.id
    assert await p.h.assigned(handle) == "1001"
    revoked = await p.token("1002")
    await TokenStore(p.h.sessions).revoke("1002", datetime.now(UTC))
    own, other = await p.token("1001"), await p.token("1002")
    admin = {"Authorization": f"Bearer {ADMIN}"}
    url = f"/api/referrals/{rid}"

    for headers in ({}, {"Authorization": "Bearer ftp_nonsense"}, revoked, admin):
        for method, path in [("GET", "/api/referrals"), ("GET", url), ("POST", url + "/accept")]:
            r = await p.http.request(method, path, headers=headers)
            assert_error(r, 401, "unauthorized")
            assert r.headers["www-authenticate"] == "Bearer"
    assert_error(
        await p.http.get(url, headers={"Authorization": "Basic eDp5"}), 401, "unauthorized"
    )

    # Another partner cannot tell this referral from one that does not exist.
    theirs = assert_error(await p.http.get(url, headers=other), 404, "not_found")
    unknown = assert_error(
        await p.http.get("/api/referrals/FT-NOPE", headers=other), 404, "not_found"
    )
    assert theirs == unknown
    assert_error(await p.http.post(url + "/accept", headers=other), 404, "not_found")
    assert_error(
        await p.http.post(url + "/decline", headers=other, json={"reason": "other", "note": "x"}),
        404,
        "not_found",
    )
    assert (await p.http.get("/api/referrals", headers=other)).json() == []
    assert (await p.http.get(url, headers=own)).status_code == 200
    assert (await p.h.state(handle)).status == "pending"

    # Partner tokens do not open the admin API.
    for headers in ({}, own):
        assert_error(await p.http.get("/api/admin/referrals", headers=headers), 401, "unauthorized")


async def test_admin_api(p: Portal) -> None:
    await p.h.partners(partner("1001"))
    handle = await p.h.start(referral(unique("FT-P")))
    rid = handle.id
    await p.h.assigned(handle)
    admin = {"Authorization": f"Bearer {ADMIN}"}

    async def shown() -> bool:
        r = await p.http.get("/api/admin/referrals", params={"partner": "1001"}, headers=admin)
        return [x["id"] for x in r.json()] == [rid]

    await eventually(shown)
    r = await p.http.get("/api/admin/referrals", params={"status": "active"}, headers=admin)
    assert r.status_code == 200 and r.json() == []
    d = (await p.http.get(f"/api/admin/referrals/{rid}", headers=admin)).json()
    assert d["assignments"][0]["partner"] == "1001" and d["waiting_for"]
    assert d["due"]["timezone"] == "Europe/Berlin" and d["parts"] == []
    assert_error(await p.http.get("/api/admin/referrals/FT-NOPE", headers=admin), 404, "not_found")

    retry = await p.http.post(f"/api/admin/referrals/{rid}/retry", headers=admin)
    assert_error(retry, 409, "invalid_state")
    no_reason = await p.http.post(f"/api/admin/referrals/{rid}/cancel", headers=admin, json={})
    assert_error(no_reason, 422, "invalid_body")
    blank = {"reason": "   "}
    assert_error(
        await p.http.post(f"/api/admin/referrals/{rid}/cancel", headers=admin, json=blank),
        422,
        "invalid_body",
    )
    cancel = {"reason": "customer withdrew"}
    r = await p.http.post(f"/api/admin/referrals/{rid}/cancel", headers=admin, json=cancel)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    again = await p.http.post(f"/api/admin/referrals/{rid}/cancel", headers=admin, json=cancel)
    assert_error(again, 409, "closed")
    d = (await p.http.get(f"/api/admin/referrals/{rid}", headers=admin)).json()
    assert (
        d["cancel_reason"] == "customer withdrew"
        and d["history"][-1]["actor"] == "operator:admin-token"
    )

    # Without PORTAL_ADMIN_TOKEN the admin API does not exist.
    off = create_app(replace(p.h.settings, portal_admin_token=None), p.h.client, p.h.sessions)
    async with portal_client(off) as http:
        assert_error(await http.get("/api/admin/referrals", headers=admin), 404, "not_found")


# ------------------------------------------------------------------------- idempotency


async def test_idempotency_key_returns_first_answer_once(p: Portal) -> None:
    await p.h.partners(partner("1001"))
    handle = await p.h.start(referral(unique("FT-P")))
    rid = handle.id
    await p.h.assigned(handle)
    me = await p.token("1001")
    url = f"/api/referrals/{rid}"

    refused = {"reason": "customer_prefers_fasttrack_center"}
    first_no = await p.http.post(
        url + "/decline", headers=me | {"Idempotency-Key": "k-0"}, json=refused
    )
    assert_error(first_no, 409, "reason_refused")
    again_no = await p.http.post(
        url + "/decline", headers=me | {"Idempotency-Key": "k-0"}, json=refused
    )
    assert again_no.status_code == 409 and again_no.json() == first_no.json()

    keyed = me | {"Idempotency-Key": "k-1"}
    first = await p.http.post(url + "/accept", headers=keyed)
    assert first.status_code == 200, first.text
    before = await p.history_len(rid)
    second = await p.http.post(url + "/accept", headers=keyed)
    assert second.status_code == 200 and second.json() == first.json()
    assert await p.history_len(rid) == before
    accepted = [e for e in (await p.h.state(handle)).history if e.action == "accepted"]
    assert len(accepted) == 1

    reused = await p.http.post(url + "/contacted", headers=keyed, json={"note": "x"})
    assert_error(reused, 422, "idempotency_key_reused")
    # Without a key a repeat is simply refused by the workflow.
    assert_error(await p.http.post(url + "/accept", headers=me), 409, "invalid_state")
    # Keys are per partner: the same key from someone else is a different request.
    await p.h.partners(partner("1002", workloads=["intune"]))
    other = await p.token("1002")
    r = await p.http.post(url + "/accept", headers=other | {"Idempotency-Key": "k-1"})
    assert_error(r, 404, "not_found")
    bad_key = await p.http.post(url + "/kickoff", headers=me | {"Idempotency-Key": "x" * 200})
    assert_error(bad_key, 422, "invalid_request")


# ---------------------------------------------------------------- refusals and bodies


async def test_refusals_are_409_with_the_policy_answer(p: Portal) -> None:
    await p.h.partners(partner("1001"))
    handle = await p.h.start(referral(unique("FT-P")))
    rid = handle.id
    await p.h.assigned(handle)
    me = await p.token("1001")
    url = f"/api/referrals/{rid}"
    before = await p.history_len(rid)

    async def post(action: str, body: Any = None) -> httpx.Response:
        return await p.http.post(f"{url}/{action}", headers=me, json=body)

    body = assert_error(
        await post("decline", {"reason": "customer_prefers_fasttrack_center"}),
        409,
        "reason_refused",
    )
    assert body["message"] == ANSWER_FASTTRACK_CENTER
    body = assert_error(
        await post("decline", {"reason": "account_team_declines_partner"}), 409, "reason_refused"
    )
    assert body["message"] == ANSWER_ACCOUNT_TEAM
    assert_error(await post("decline", {"reason": "other"}), 409, "note_required")
    assert_error(await post("contacted"), 409, "invalid_state")
    assert_error(await post("complete", {"vas_sold": True}), 409, "invalid_state")
    assert await p.history_len(rid) == before  # refusals change nothing

    assert (await post("accept")).status_code == 200
    assert_error(await post("accept"), 409, "invalid_state")
    sold_nothing = {"vas_sold": False, "vas_value": 10}
    assert_error(await post("complete", sold_nothing), 409, "invalid_value")
    assert (await p.h.state(handle)).status == "active"


BAD_BODIES: list[tuple[str, Any]] = [
    ("decline", None),
    ("decline", {}),
    ("decline", {"reason": "bored"}),
    ("decline", {"reason": "other", "note": "x", "extra": 1}),
    ("decline", {"reason": "other", "note": "bad\x00byte"}),
    ("decline", {"reason": "other", "note": "x" * 2001}),
    ("decline", ["customer_unresponsive"]),
    ("decline", b"{"),
    ("complete", {}),
    ("complete", {"vas_sold": True, "vas_value": -1}),
    ("complete", {"vas_sold": "maybe"}),
    ("accept", {"note": 5}),
    ("kickoff", b"\xff\xfe"),
]


async def test_bad_bodies_are_422(p: Portal) -> None:
    await p.h.partners(partner("1001"))
    handle = await p.h.start(referral(unique("FT-P")))
    rid = handle.id
    await p.h.assigned(handle)
    me = await p.token("1001")
    before = await p.history_len(rid)
    for action, body in BAD_BODIES:
        url = f"/api/referrals/{rid}/{action}"
        if isinstance(body, bytes):
            json_type = {"Content-Type": "application/json"}
            r = await p.http.post(url, headers=me | json_type, content=body)
        else:
            r = await p.http.post(url, headers=me, json=body)
        msg = assert_error(r, 422, "invalid_body")["message"]
        assert "\x00" not in msg, (action, body)
    assert await p.history_len(rid) == before
    assert (await p.h.state(handle)).status == "pending"


# ------------------------------------------------------------------- reassignment


async def test_decline_then_another_partner_takes_it(p: Portal) -> None:
    await p.h.partners(partner("1001"), partner("1002"))
    handle = await p.h.start(referral(unique("FT-P")))
    rid = handle.id
    first = await p.h.assigned(handle)
    second = "1002" if first == "1001" else "1001"
    t1, t2 = await p.token(first), await p.token(second)
    url = f"/api/referrals/{rid}"
    assert_error(await p.http.get(url, headers=t2), 404, "not_found")

    r = await p.http.post(url + "/decline", headers=t1, json={"reason": "customer_unresponsive"})
    assert r.status_code == 200, r.text
    assert await p.h.assigned(handle, seq=2) == second

    await listed(p, t2, rid, current=True, status="pending")
    mine = (await p.http.get(url, headers=t2)).json()
    assert mine["current"] is True and mine["due"] is not None
    assert [a["partner"] for a in mine["assignments"]] == [second]
    assert not any(h["actor"] == f"partner:{first}" for h in mine["history"])

    row = await listed(p, t1, rid, current=False)
    assert row["due_at"] is None
    theirs = (await p.http.get(url, headers=t1)).json()
    assert theirs["current"] is False and theirs["due"] is None and theirs["waiting_for"] == ""
    assert [(a["partner"], a["outcome"]) for a in theirs["assignments"]] == [(first, "declined")]
    actions = [(h["actor"], h["action"]) for h in theirs["history"]]
    assert (f"partner:{first}", "declined") in actions
    assert not any(second in h["detail"] for h in theirs["history"])
    # Having declined, it keeps only its own outcome and dates: no customer data.
    assert theirs["access"] == "outcome" and theirs["customer"] is None
    assert theirs["notes"] == "" and theirs["requested_by"] is None and not theirs["account_team"]
    assert mine["access"] == "full" and mine["customer"]["contact_email"]

    body = assert_error(await p.http.post(url + "/accept", headers=t1), 409, "not_assigned")
    assert first in body["message"]
    assert (await p.http.post(url + "/accept", headers=t2)).status_code == 200


# ---------------------------------------------------------------------- email links


def act_links(h: Harness, rid: str, to: str) -> dict[str, str]:
    """The accept / decline paths in the notification email."""
    for msg in h.mails(rid, to):
        for part in msg.walk():
            if part.get_content_maintype() != "text":
                continue
            text = str(part.get_content())
            tokens = re.findall(r"/act/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)", text)
            if len(set(tokens)) >= 2:
                return {_action_of(t): f"/act/{t}" for t in dict.fromkeys(tokens)}
    raise AssertionError("no action links in the notification")


def _action_of(token: str) -> str:
    import base64
    import json

    body = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["a"])


async def notification_links(p: Portal, rid: str, mpn: str) -> dict[str, str]:
    to = f"referrals-{mpn}@"
    await p.h.wait_mail(lambda m: rid in str(m["Subject"]) and to in str(m["To"]))
    return act_links(p.h, rid, to)


async def test_email_accept_link_is_prefetch_safe_and_single_use(p: Portal) -> None:
    await p.h.partners(partner("1001"))
    handle = await p.h.start(referral(unique("FT-P")))
    rid = handle.id
    await p.h.assigned(handle)
    links = await notification_links(p, rid, "1001")
    assert set(links) == {"accept", "decline"}
    before = await p.history_len(rid)

    for _ in range(2):  # mail scanners open links: GET changes nothing
        r = await p.http.get(links["accept"])
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert (
            rid in r.text and "2,400" in r.text and "Microsoft Teams, SharePoint Online" in r.text
        )
        assert "Benefit" in r.text and "Answer due" in r.text and "<form" in r.text
    assert (await p.h.state(handle)).status == "pending"
    assert await p.history_len(rid) == before

    r = await p.http.post(links["accept"])
    assert r.status_code == 200 and "Accepted" in r.text
    assert (await p.h.state(handle)).status == "active"
    r = await p.http.post(links["accept"])
    assert r.status_code == 409 and "already used" in r.text
    r = await p.http.get(links["accept"])  # the page says why there is nothing to do
    assert r.status_code == 409 and "already accepted" in r.text
    accepted = [e for e in (await p.h.state(handle)).history if e.action == "accepted"]
    assert len(accepted) == 1


async def test_email_decline_link_validates_and_shows_refusals(p: Portal) -> None:
    await p.h.partners(partner("1001"), partner("1002"))
    handle = await p.h.start(referral(unique("FT-P")))
    rid = handle.id
    first = await p.h.assigned(handle)
    link = (await notification_links(p, rid, first))["decline"]

    page = await p.http.get(link)
    assert page.status_code == 200 and "<select" in page.text
    assert "customer_unresponsive" in page.text
    assert "customer_prefers_fasttrack_center" not in page.text  # never offered

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = await p.http.post(link, content=b"reason=customer_prefers_fasttrack_center", headers=form)
    assert r.status_code == 422 and "Choose a reason" in r.text
    r = await p.http.post(link, content=b"reason=other&note=", headers=form)
    assert r.status_code == 422 and "needs a note" in r.text
    assert (await p.h.state(handle)).status == "pending"  # the link is still usable

    r = await p.http.post(link, content=b"reason=other&note=No+Teams+Phone+skills", headers=form)
    assert r.status_code == 200 and "Declined" in r.text
    state = await p.h.state(handle)
    assert state.assignments[0].outcome == "declined" and state.assignments[0].reason == "other"
    r = await p.http.post(link, content=b"reason=customer_unresponsive", headers=form)
    assert r.status_code == 409


async def test_expired_and_forged_links(p: Portal) -> None:
    await p.h.partners(partner("1001"))
    handle = await p.h.start(referral(unique("FT-P")))
    rid = handle.id
    await p.h.assigned(handle)
    secret = p.h.settings.link_secret.get_secret_value()
    past = datetime.now(UTC) - timedelta(minutes=1)
    expired = sign_link(secret, LinkClaims(rid, "1001", "accept", past, "n-expired"))
    future = datetime.now(UTC) + timedelta(days=1)
    forged = sign_link("not-the-secret", LinkClaims(rid, "1001", "accept", future, "n"))
    genuine = sign_link(secret, LinkClaims(rid, "1001", "accept", future, "n-ok"))
    tampered = genuine[:-3] + ("AAA" if not genuine.endswith("AAA") else "BBB")

    for method in ("GET", "POST"):
        r = await p.http.request(method, f"/act/{expired}")
        assert r.status_code == 410 and "expired" in r.text
        for token in (forged, tampered, "garbage", "a.b"):
            r = await p.http.request(method, f"/act/{token}")
            assert r.status_code == 400 and "not valid" in r.text
    assert (await p.h.state(handle)).status == "pending"
    assert (await p.http.get(f"/act/{genuine}")).status_code == 200


# ------------------------------------------------------------------ misc and failure


async def test_service_endpoints_and_json_errors(p: Portal) -> None:
    assert (await p.http.get("/healthz")).json() == {"status": "ok"}
    spec = (await p.http.get("/openapi.json")).json()
    assert "/api/referrals/{id}/cpor-claimed" in spec["paths"]
    assert "/api/referrals/{id}/account-team-contacted" in spec["paths"]
    assert (await p.http.get("/docs")).status_code == 200
    assert_error(await p.http.get("/api/nothing-here"), 404, "not_found")
    assert_error(await p.http.delete("/api/referrals"), 405, "method_not_allowed")
    view = await p.http.get("/referrals/FT-ANY")
    assert view.status_code == 303 and view.headers["location"] == "/signin?next=/referrals/FT-ANY"


async def test_temporal_unreachable_gives_503_and_snapshot_reads(p: Portal) -> None:
    await p.h.partners(partner("1001"))
    handle = await p.h.start(referral(unique("FT-P")))
    rid = handle.id
    await p.h.assigned(handle)
    me = await p.token("1001")
    await listed(p, me, rid, current=True)
    dead = await Client.connect("127.0.0.1:1", lazy=True)
    async with portal_client(create_app(p.h.settings, dead, p.h.sessions)) as http:
        r = await http.get(f"/api/referrals/{rid}", headers=me)
        assert r.status_code == 200 and r.json()["source"] == "snapshot"
        assert r.json()["current"] is True
        r = await http.post(f"/api/referrals/{rid}/accept", headers=me)
        assert_error(r, 503, "unavailable")
        assert r.headers["retry-after"]
    assert (await p.h.state(handle)).status == "pending"
