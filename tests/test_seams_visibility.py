"""One rule for what a partner sees of a referral (`domain.visibility`): the JSON list, the
JSON detail, the Referrals page, the referral's page, the CSV export, the page behind the
email's action link and the emails that tell the partner it let go give the same answer, after
a decline, an expiry and an operator's cancel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from db.readmodel import ReferralReadModel
from db.tokens import TokenStore
from domain.models import Assignment, Outcome
from domain.visibility import latest_outcome, sees_customer
from portal import create_app
from tests.factories import partner, referral
from tests.harness import Harness
from tests.test_exports import parse
from tests.test_portal import act_links, eventually, portal_client, unique
from tests.test_portal_pages import sign_in

CUSTOMER = "Fabrikam Ltd"


@pytest_asyncio.fixture
async def web(h: Harness) -> AsyncIterator[httpx.AsyncClient]:
    settings = replace(h.settings, portal_url="http://portal", portal_admin_token=SecretStr("x"))
    async with portal_client(create_app(settings, h.client, h.sessions)) as http:
        yield http


def test_a_partner_sees_the_customer_only_while_it_holds_or_completed_the_referral() -> None:
    def held(*outcomes: Outcome) -> list[Assignment]:
        return [
            Assignment(i, "1001", "", o, assigned_at=None)  # type: ignore[arg-type]
            for i, o in enumerate(outcomes, 1)
        ]

    assert sees_customer(latest_outcome(held(Outcome.PENDING), "1001"))
    assert sees_customer(latest_outcome(held(Outcome.EXPIRED, Outcome.COMPLETED), "1001"))
    for gone in (Outcome.DECLINED, Outcome.EXPIRED, Outcome.WITHDRAWN):
        assert not sees_customer(latest_outcome(held(Outcome.ACCEPTED, gone), "1001"))
    assert not sees_customer(latest_outcome(held(Outcome.PENDING), "2002"))
    as_json = [{"partner": "1001", "outcome": "withdrawn"}]
    assert not sees_customer(latest_outcome(as_json, "1001"))


async def _answers(h: Harness, web: httpx.AsyncClient, mpn: str, rid: str) -> tuple[str, ...]:
    """What `mpn` is shown of the customer: (list API customer_name, detail API access, and
    whether the Referrals page, the referral's page and the CSV export name the customer)."""
    token = await TokenStore(h.sessions).issue(mpn, datetime.now(UTC))
    auth = {"Authorization": f"Bearer {token}"}
    rows = [r for r in (await web.get("/api/referrals", headers=auth)).json() if r["id"] == rid]
    one = (await web.get(f"/api/referrals/{rid}", headers=auth)).json()
    web.cookies.clear()
    await sign_in(h, web, f"referrals-{mpn}@partner.example")
    pages = [(await web.get(path)).text for path in ("/referrals", f"/referrals/{rid}")]
    export = await web.get("/referrals.csv")
    assert export.status_code == 200 and rid in export.text
    shown = [CUSTOMER in text for text in (*pages, export.text)]
    (line,) = [x for x in parse(export.text) if x["id"] == rid]
    customer = rows[0]["customer_name"], rows[0]["customer_country"], rows[0]["seats"]
    exported = line["customer"], line["customer_country"], line["seats"]
    if rows[0]["customer_name"]:
        assert customer == (CUSTOMER, "DE", 2400) and exported == (CUSTOMER, "DE", "2400")
    else:  # no customer data in the list, as in the detail
        assert customer == ("", "", None) and exported == ("", "", "")
    return rows[0]["customer_name"], one["access"], *(str(s) for s in shown)


@pytest.mark.own_test_server  # skips time to the expiry
async def test_declined_withdrawn_and_expired_partners_see_no_customer_on_any_path(
    h: Harness, web: httpx.AsyncClient
) -> None:
    await h.partners(partner("1001"), partner("1002"))
    handle = await h.start(referral(unique("FT-V")))
    first = await h.assigned(handle)
    second = "1002" if first == "1001" else "1001"
    assert await _answers(h, web, first, handle.id) == (CUSTOMER, "full", "True", "True", "True")
    accept_link = act_links(h, handle.id, f"referrals-{first}")["accept"]
    assert "2,400" in (await web.get(accept_link)).text  # the customer's seats

    await h.act(handle, "decline", first, reason="customer_unresponsive")
    assert await h.assigned(handle, seq=2) == second

    async def recorded(mpn: str, outcome: str) -> bool:
        found = await ReferralReadModel(h.sessions).assignments_for_partner(mpn)
        return any(latest_outcome(r.state.get("assignments", []), mpn) == outcome for r in found)

    await eventually(lambda: recorded(first, "declined"))
    assert await _answers(h, web, first, handle.id) == ("", "outcome", "False", "False", "False")
    assert "2,400" not in (await web.get(accept_link)).text
    assert not await _names_customer(h, "decline_ack", first)

    await h.operate(handle, "cancel", "customer withdrew")
    await eventually(lambda: recorded(second, "withdrawn"))
    assert await _answers(h, web, second, handle.id) == ("", "outcome", "False", "False", "False")

    expiring = await h.start(referral(unique("FT-V")))
    silent = await h.assigned(expiring)
    due = (await h.state(expiring)).assignments[0].due_at
    assert due is not None
    await h.env.sleep(due - await h.env.get_current_time() + timedelta(minutes=1))
    await eventually(lambda: recorded(silent, "expired"))
    assert await _answers(h, web, silent, expiring.id) == ("", "outcome", "False", "False", "False")
    assert not await _names_customer(h, "expired", silent)
    assert await _names_customer(h, "notification", silent)  # while it held the referral


async def _names_customer(h: Harness, kind: str, mpn: str) -> bool:
    """Whether the `kind` email to `mpn`'s referral contact names the customer."""
    msg = await h.wait_mail(
        lambda m: str(m["X-FastTrack-Kind"]) == kind and f"referrals-{mpn}" in str(m["To"])
    )
    parts = [str(msg["Subject"])] + [str(p.get_content()) for p in msg.iter_parts()]
    return any(CUSTOMER in part for part in parts)


async def test_a_signed_in_partner_opens_its_emails_action_link(
    h: Harness, web: httpx.AsyncClient
) -> None:
    """The link page renders for a partner signed in to the portal too (it has no menu entry
    of its own)."""
    await h.partners(partner("1001"))
    handle = await h.start(referral(unique("FT-V-LINK")))
    await h.assigned(handle)
    await sign_in(h, web, "referrals-1001@partner.example")
    page = await web.get(act_links(h, handle.id, "referrals-1001")["accept"])
    assert page.status_code == 200 and handle.id in page.text
