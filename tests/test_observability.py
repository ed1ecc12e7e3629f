"""Readiness endpoints for the worker and the portal, and the portal's Prometheus metrics."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client

from db.tokens import TokenStore
from portal import create_app
from runtime.health import health_port, serve_worker_health
from settings import SettingsError
from tests.conftest import free_port
from tests.factories import partner, referral
from tests.harness import Harness


def portal_client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal")  # type: ignore[arg-type]


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample in an exposition, 0 when absent."""
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_portal_counts_requests_by_route_template_method_and_status(h: Harness) -> None:
    await h.partners(partner("1001"))
    handle = await h.start(referral("FT-OBS"))
    await h.assigned(handle)
    token = await TokenStore(h.sessions).issue("1001", datetime.now(UTC))
    me = {"Authorization": f"Bearer {token}"}
    settings = replace(h.settings, portal_metrics_token=SecretStr("scrape"))
    async with portal_client(create_app(settings, h.client, h.sessions)) as http:
        assert (await http.get(f"/api/referrals/{handle.id}", headers=me)).status_code == 200
        assert (await http.get(f"/api/referrals/{handle.id}", headers=me)).status_code == 200
        assert (await http.get("/api/referrals/FT-NOT-MINE", headers=me)).status_code == 404
        assert (await http.get("/api/referrals")).status_code == 401
        assert (await http.get("/no/such/path")).status_code == 404
        text = (await http.get("/metrics", headers={"Authorization": "Bearer scrape"})).text

    route = "/api/referrals/{id}"
    counted = "fasttrack_portal_requests_total"
    assert sample(text, counted, route=route, method="GET", status="200") == 2
    assert sample(text, counted, route=route, method="GET", status="404") == 1
    assert sample(text, counted, route="/api/referrals", method="GET", status="401") == 1
    assert sample(text, counted, route="unmatched", method="GET", status="404") == 1
    timed = "fasttrack_portal_request_duration_seconds_count"
    assert sample(text, timed, route=route, method="GET") == 3
    assert 'le="0.1"' in text
    assert handle.id not in text and "FT-NOT-MINE" not in text and "/no/such" not in text


async def test_portal_readyz_names_the_unreachable_dependency(h: Harness) -> None:
    async with portal_client(create_app(h.settings, h.client, h.sessions)) as http:
        r = await http.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "ready"
        assert set(r.json()["checks"]) == {"temporal", "database"}
        assert (await http.get("/healthz")).json() == {"status": "ok"}
    dead = await Client.connect("127.0.0.1:1", lazy=True)
    async with portal_client(create_app(h.settings, dead, h.sessions)) as http:
        r = await http.get("/readyz")
        assert r.status_code == 503
        checks = r.json()["checks"]
        assert checks["temporal"]["ok"] is False and checks["database"]["ok"] is True
        assert r.headers["cache-control"] == "no-store"


async def test_worker_readyz_checks_temporal_database_and_smtp(h: Harness) -> None:
    port = free_port()
    env = {"HEALTH_PORT": str(port)}
    async with (
        serve_worker_health(h.client, h.sessions, h.settings, env) as server,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        assert server is not None and server.port == port
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        r = await http.get("/readyz")
        assert r.status_code == 200, r.text
        assert {k: v["ok"] for k, v in r.json()["checks"].items()} == {
            "temporal": True,
            "database": True,
            "smtp": True,
        }
        assert (await http.get("/elsewhere")).status_code == 404
        assert (await http.post("/readyz")).status_code == 405

    no_smtp = replace(h.settings, smtp_port=free_port())
    async with (
        serve_worker_health(h.client, h.sessions, no_smtp, env),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        r = await http.get("/readyz")
        assert r.status_code == 503
        assert r.json()["status"] == "unavailable"
        assert r.json()["checks"]["smtp"]["ok"] is False
        assert r.json()["checks"]["database"]["ok"] is True


async def test_worker_health_endpoint_is_off_unless_health_port_is_set(h: Harness) -> None:
    async with serve_worker_health(h.client, h.sessions, h.settings, {}) as server:
        assert server is None
    assert health_port({"HEALTH_PORT": "off"}) is None
    assert health_port({"HEALTH_PORT": "9465"}) == 9465
    with pytest.raises(SettingsError, match="HEALTH_PORT must be a port number"):
        health_port({"HEALTH_PORT": "nine"})
    with pytest.raises(SettingsError):
        health_port({"HEALTH_PORT": "²"})
