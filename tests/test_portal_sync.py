"""The partner API's incremental sync (updated_since, limit, opaque cursors) and the partner's
own record id on a referral (external-ref), over HTTP against a real worker and database."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from db.directory import PartnerDirectory
from db.external_refs import ExternalRefs
from db.readmodel import ReferralReadModel
from portal.sync import SETTLE, decode_cursor, encode_cursor
from tests.dbfixtures import T0, Database, assignment, event, partner_profile, snapshot
from tests.factories import partner, referral
from tests.test_portal import Portal, assert_error, eventually, listed, p, unique

__all__ = ["p"]


async def _page(p: Portal, me: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await p.http.get("/api/referrals", params=params, headers=me)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == {"items", "next_cursor"}
    return body


async def test_sync_pages_in_update_order_until_the_cursor_runs_out(p: Portal) -> None:
    await p.h.partners(partner("1001"))
    me = await p.token("1001")
    ids = []
    for _ in range(3):
        handle = await p.h.start(referral(unique("FT-SYNC")))
        await p.h.assigned(handle)
        ids.append(handle.id)
    for rid in ids:
        await listed(p, me, rid, status="pending")

    async def synced() -> bool:  # a change reaches the sync once it has settled
        return set(ids) <= {x["id"] for x in (await _page(p, me, limit=200))["items"]}

    await eventually(synced)
    seen: list[dict[str, Any]] = []
    body = await _page(p, me, limit=2)
    pages = 1
    while True:
        assert len(body["items"]) <= 2
        seen.extend(body["items"])
        if body["next_cursor"] is None:
            break
        body = await _page(p, me, limit=2, cursor=body["next_cursor"])
        pages += 1
    keys = [(x["updated_at"], x["id"]) for x in seen]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert set(ids) <= {x["id"] for x in seen} and pages >= 2

    # Catching up: only what changed since the last update seen comes back, the accepted one.
    since = seen[-1]["updated_at"]
    r = await p.http.post(f"/api/referrals/{ids[0]}/accept", headers=me)
    assert r.status_code == 200, r.text

    async def accepted_shows() -> bool:
        items = (await _page(p, me, updated_since=since))["items"]
        return any(x["id"] == ids[0] and x["status"] == "active" for x in items)

    await eventually(accepted_shows)
    items = (await _page(p, me, updated_since=since))["items"]
    assert ids[1] not in {x["id"] for x in items}
    assert (await _page(p, me, updated_since=since, status="pending"))["items"] == [
        x for x in items if x["status"] == "pending"
    ]


async def test_sync_refuses_bad_limits_cursors_and_times(p: Portal) -> None:
    await p.h.partners(partner("1001"))
    me = await p.token("1001")
    for params in (
        {"limit": 0},
        {"limit": 201},
        {"cursor": "not-a-cursor"},
        {"cursor": "!!"},
        {"updated_since": "yesterday"},
        {"updated_since": "9999-12-31T23:59:59-01:00"},  # past year 9999 in UTC
        {"updated_since": "0001-01-01T00:00:00+01:00"},  # before year 1 in UTC
        {"cursor": _cursor("0001-01-01T00:00:00+01:00", "FT-1")},
        {"cursor": _cursor("9999-12-31T23:59:59-01:00", "FT-1")},
    ):
        r = await p.http.get("/api/referrals", params=params, headers=me)
        assert_error(r, 422, "invalid_request")
    body = await _page(p, me, limit=200, updated_since="2999-01-01T00:00:00")
    assert body == {"items": [], "next_cursor": None}


def _cursor(at: str, workflow_id: str) -> str:
    raw = json.dumps([at, workflow_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_cursor_round_trips_its_position() -> None:
    at = datetime(2026, 12, 6, 20, 11, 41, 123456, tzinfo=UTC)
    assert decode_cursor(encode_cursor(at, "FT-1.part2")) == (at, "FT-1.part2")


async def test_the_partner_stores_its_own_record_id_and_sees_it_everywhere(p: Portal) -> None:
    await p.h.partners(partner("1001"), partner("1002"))
    handle = await p.h.start(referral(unique("FT-REF")))
    rid = handle.id
    holder = await p.h.assigned(handle)
    other = "1002" if holder == "1001" else "1001"
    me, them = await p.token(holder), await p.token(other)
    url = f"/api/referrals/{rid}/external-ref"

    r = await p.http.put(url, headers=me, json={"external_ref": "CRM-0042 Opportunity"})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": rid, "external_ref": "CRM-0042 Opportunity"}
    d = (await p.http.get(f"/api/referrals/{rid}", headers=me)).json()
    assert d["external_ref"] == "CRM-0042 Opportunity"
    row = await listed(p, me, rid, external_ref="CRM-0042 Opportunity")
    assert row["id"] == rid

    async def synced() -> bool:  # once the referral's last change has settled
        items = (await _page(p, me, limit=200))["items"]
        return [x["external_ref"] for x in items if x["id"] == rid] == ["CRM-0042 Opportunity"]

    await eventually(synced)

    assert_error(await p.http.put(url, headers=them, json={"external_ref": "x"}), 404, "not_found")
    too_long = {"external_ref": "x" * 101}
    assert_error(await p.http.put(url, headers=me, json=too_long), 422, "invalid_body")
    control = {"external_ref": "a\u0000b"}
    assert_error(await p.http.put(url, headers=me, json=control), 422, "invalid_body")

    r = await p.http.put(url, headers=me, json={"external_ref": ""})
    assert r.json() == {"id": rid, "external_ref": None}
    d = (await p.http.get(f"/api/referrals/{rid}", headers=me)).json()
    assert d["external_ref"] is None


async def test_a_sync_page_holds_only_settled_changes(database: Database) -> None:
    """Two changes stamped t1 < t2 whose transactions commit in the other order: a sync served
    before t1 has settled serves neither, so its cursor cannot pass t1 and miss it."""
    await PartnerDirectory(database.sessionmaker).upsert([partner_profile("100")], T0)
    model = ReferralReadModel(database.sessionmaker)
    refs = ExternalRefs(database.sessionmaker)

    async def commit(rid: str, stamped: datetime) -> None:
        snap = snapshot(rid, assignments=[assignment(1, "100")], history=[event(0, "assigned")])
        await model.sync(snap, stamped)

    async def sync(read_at: datetime) -> list[str]:
        rows = await refs.changes(
            "100", updated_since=T0, after=None, status=None, limit=10, settled=read_at - SETTLE
        )
        return [r.workflow_id for r in rows]

    t1, t2 = T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)
    await commit("FT-SETTLE-B", t2)
    assert await sync(t2 + timedelta(milliseconds=10)) == []  # A is not committed yet
    await commit("FT-SETTLE-A", t1)
    assert await sync(t2 + SETTLE + timedelta(milliseconds=1)) == ["FT-SETTLE-A", "FT-SETTLE-B"]
