"""The partner's Integrations page: add an endpoint (secret shown once), see deliveries with
their outcome, send one again (same event id), rotate and remove; another partner's
endpoints and deliveries are out of reach."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import update

from db.audit import Actor
from db.integration_models import WebhookSubscription
from db.webhooks import WebhookStore
from domain.webhooks import verify
from runtime.sealing import Sealer
from runtime.webhook_receiver import WebhookReceiver
from runtime.webhooks import subscribe
from tests.factories import partner, referral
from tests.harness import Harness
from tests.test_portal import eventually, unique
from tests.test_portal_pages import csrf_of, sign_in
from tests.test_portal_pages import web as web  # the signed-out browser fixture

__all__ = ["web"]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver().start()
    yield r
    r.stop()


@pytest_asyncio.fixture
async def partner_web(h: Harness, web: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    await h.partners(partner("6001"), partner("6002", workloads=["intune"]))
    await sign_in(h, web, "referrals-6001@partner.example", "/integrations")
    yield web


async def test_a_partner_adds_an_endpoint_sees_deliveries_and_sends_one_again(
    h: Harness, partner_web: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    web = partner_web
    page = await web.get("/integrations")
    assert page.status_code == 200 and "No endpoints yet" in page.text
    assert 'href="/integrations" aria-current="page"' in page.text
    bad = await web.post(
        "/integrations/webhooks", data={"csrf": csrf_of(page.text), "url": "ftp://x"}
    )
    assert bad.status_code == 422 and "https://" in bad.text

    added = await web.post(
        "/integrations/webhooks",
        data={"csrf": csrf_of(page.text), "url": receiver.url, "events": "referral.assigned"},
    )
    assert added.status_code == 200, added.text
    found = re.search(r'id="webhook-secret">(whsec_[^<]+)<', added.text)
    assert found
    secret = found.group(1)
    again_page = await web.get("/integrations")
    assert secret not in again_page.text and receiver.url in again_page.text

    handle = await h.start(referral(unique("FT-INT")))
    assert await h.assigned(handle) == "6001"

    async def listed() -> bool:
        page = await web.get("/integrations")
        return handle.id in page.text and "delivered" in page.text

    await eventually(listed, timeout=30)
    first = receiver.received[0]
    assert verify(secret, first.signature, first.body, int(time.time()))

    page = await web.get("/integrations")
    event_id = first.event_id
    r = await web.post(
        f"/integrations/deliveries/{event_id}/again", data={"csrf": csrf_of(page.text)}
    )
    assert r.status_code == 303

    async def twice() -> bool:
        return [x.event_id for x in receiver.received].count(event_id) == 2

    await eventually(twice, timeout=30)
    assert receiver.received[1].body == first.body  # same event, same body

    sub_id = re.search(r'action="/integrations/webhooks/(\d+)/rotate"', page.text)
    assert sub_id
    # Disabled (another event gave up): "send again" says why it cannot, and sends nothing.
    async with h.sessions() as session, session.begin():
        await session.execute(
            update(WebhookSubscription)
            .where(WebhookSubscription.id == int(sub_id.group(1)))
            .values(disabled_at=datetime.now(UTC), disabled_reason="test")
        )
    refused = await web.post(
        f"/integrations/deliveries/{event_id}/again", data={"csrf": csrf_of(page.text)}
    )
    assert refused.status_code == 409 and "rotate its signing secret" in refused.text
    rotated = await web.post(
        f"/integrations/webhooks/{sub_id.group(1)}/rotate", data={"csrf": csrf_of(page.text)}
    )
    assert "webhook-secret" in rotated.text and secret not in rotated.text
    removed = await web.post(
        f"/integrations/webhooks/{sub_id.group(1)}/remove", data={"csrf": csrf_of(page.text)}
    )
    assert removed.status_code == 303
    assert "No endpoints yet" in (await web.get("/integrations")).text


async def test_another_partners_endpoints_and_deliveries_are_out_of_reach(
    h: Harness, partner_web: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    store = WebhookStore(h.sessions, Sealer.for_settings(h.settings))
    theirs, _ = await subscribe(
        store, h.settings, "6002", receiver.url, "", Actor("operator:t"), datetime.now(UTC)
    )
    page = await partner_web.get("/integrations")
    assert receiver.url not in page.text
    csrf = csrf_of(page.text)
    for path in (
        f"/integrations/webhooks/{theirs.id}/rotate",
        f"/integrations/webhooks/{theirs.id}/remove",
        "/integrations/webhooks/²/remove",  # a digit, not ASCII
        f"/integrations/webhooks/{10**40}/remove",  # beyond any id
    ):
        r = await partner_web.post(path, data={"csrf": csrf})
        assert r.status_code == 404
    r = await partner_web.post("/integrations/deliveries/evt_nope/again", data={"csrf": csrf})
    assert r.status_code == 404
    assert (await store.get(theirs.id)) is not None
