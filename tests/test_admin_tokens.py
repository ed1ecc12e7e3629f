"""Operators' named tokens (issue 27, finding 18): `admin tokens create NAME` prints a token,
the admin API records NAME as the actor (never a header the caller writes), revoked tokens stop
working."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from cli.app import run
from db.admin_tokens import AdminTokenStore
from portal import create_app
from tests.factories import partner, referral
from tests.harness import Harness
from tests.test_portal import unique


def test_the_cli_creates_lists_and_revokes_named_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    assert run(["admin", "tokens", "create", "Alice"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("fta_") and "\n" not in token
    assert run(["admin", "tokens", "create", "alice"]) != 0
    assert "already has an active token" in capsys.readouterr().err
    assert run(["admin", "tokens", "create", "not a name"]) != 0
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert run(["admin", "tokens", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(t["name"], t["revoked_at"]) for t in listed] == [("alice", None)]
    assert token not in json.dumps(listed)
    assert run(["admin", "tokens", "revoke", "alice"]) == 0
    capsys.readouterr()
    assert run(["admin", "tokens", "revoke", "alice"]) != 0


async def test_the_admin_api_records_the_token_name_not_the_x_operator_header(h: Harness) -> None:
    await h.partners(partner("7001"))
    handle = await h.start(referral(unique("FT-AT")))
    await h.assigned(handle)
    store = AdminTokenStore(h.sessions)
    token = await store.create("alice", datetime.now(UTC))
    app = create_app(replace(h.settings, portal_admin_token=None), h.client, h.sessions)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://portal"
    ) as http:
        alice = {"Authorization": f"Bearer {token}", "X-Operator": "mallory"}
        url = f"/api/admin/referrals/{handle.id}"
        r = await http.post(f"{url}/cancel", headers=alice, json={"reason": "customer withdrew"})
        assert r.status_code == 200, r.text
        history = (await http.get(url, headers=alice)).json()["history"]
        assert history[-1]["actor"] == "operator:alice"
        assert all("mallory" not in e["actor"] for e in history)
        await store.revoke("alice", datetime.now(UTC))
        assert (await http.get(url, headers=alice)).status_code == 401
        forged = {"Authorization": "Bearer fta_forged"}
        assert (await http.get(url, headers=forged)).status_code == 401
