"""Spreadsheet exports: the CSV conventions (BOM, header, ISO dates, formula neutralising),
the pages' `…/referrals.csv` with their filters, and `report --csv` per assignment."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import httpx
import pytest
import pytest_asyncio

from cli.app import build_parser
from cli.context import Context
from db.exports import ASSIGNMENT_HEADER
from db.external_refs import ExternalRefs
from domain.spreadsheet import BOM, cell, to_csv
from portal import create_app
from tests.factories import partner, referral
from tests.harness import Harness
from tests.test_portal import eventually, unique
from tests.test_portal_pages import OPERATOR, sign_in


def parse(text: str) -> list[dict[str, str]]:
    assert text.startswith(BOM)
    return list(csv.DictReader(io.StringIO(text[len(BOM) :], newline="")))


def test_cells_follow_spreadsheet_conventions() -> None:
    at = datetime(2026, 12, 6, 21, 30, 5, 123, tzinfo=timezone(timedelta(hours=1)))
    assert cell(at) == "2026-12-06T20:30:05Z"
    assert cell(date(2026, 1, 2)) == "2026-01-02"
    assert cell(None) == "" and cell(True) == "true" and cell(-3) == "-3" and cell(2.5) == "2.5"
    assert cell(["teams", "intune"]) == "teams; intune"


@pytest.mark.parametrize("text", ["=HYPERLINK(1)", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_text_that_a_spreadsheet_would_run_stays_text(text: str) -> None:
    assert cell(text) == f"'{text}"
    assert cell([text]) == f"'{text}"


def test_a_document_has_a_bom_a_header_and_crlf_rows() -> None:
    text = to_csv(("a", "b"), [("x,y", 'q"uote'), ("Zürich", None)])
    assert text == f'{BOM}a,b\r\n"x,y","q""uote"\r\nZürich,\r\n'
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")


@pytest_asyncio.fixture
async def web(h: Harness) -> AsyncIterator[httpx.AsyncClient]:
    settings = replace(h.settings, operator_emails=(OPERATOR,), portal_url="http://portal")
    transport = httpx.ASGITransport(app=create_app(settings, h.client, h.sessions))
    async with httpx.AsyncClient(transport=transport, base_url="http://portal") as http:
        yield http


async def test_partner_and_operator_pages_export_their_filter(
    h: Harness, web: httpx.AsyncClient
) -> None:
    await h.partners(partner("3001"))
    hostile = referral(unique("FT-CSV"))
    hostile = replace(hostile, customer=replace(hostile.customer, name="=cmd|' /C calc'!A0"))
    handle = await h.start(hostile)
    rid = handle.id
    assert await h.assigned(handle) == "3001"
    await ExternalRefs(h.sessions).set(rid, "3001", "@crm-17", datetime.now(UTC))
    await sign_in(h, web, "referrals-3001@partner.example")

    async def listed() -> bool:
        return rid in (await web.get("/referrals")).text

    await eventually(listed)
    # The partner's own record id is on its list and on the referral's page.
    assert "your ref @crm-17" in (await web.get("/referrals")).text
    shown = await web.get(f"/referrals/{rid}")
    assert '<span class="external-ref">@crm-17</span>' in shown.text
    page = await web.get("/referrals", params={"status": "pending"})
    assert 'href="/referrals.csv?status=pending&amp;type="' in page.text
    r = await web.get("/referrals.csv", params={"status": "pending"})
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"].startswith("attachment;")
    rows = [x for x in parse(r.text) if x["id"] == rid]
    assert len(rows) == 1
    row = rows[0]
    assert row["customer"] == "'=cmd|' /C calc'!A0" and row["external_ref"] == "'@crm-17"
    assert row["status"] == "pending" and row["workloads"] == "teams; sharepoint"
    assert row["answer_due_at"].endswith("Z") and row["created_at"].endswith("Z")
    r = await web.get("/referrals.csv", params={"status": "completed"})
    assert rid not in r.text and r.text.startswith(BOM + "id,referral_id")
    assert (await web.get("/ops/referrals.csv")).status_code == 404  # not an operator

    web.cookies.clear()
    await sign_in(h, web, OPERATOR, "/ops/referrals")
    page = await web.get("/ops/referrals", params={"partner": "3001", "status": "pending"})
    assert 'href="/ops/referrals.csv?status=pending&amp;partner=3001"' in page.text
    r = await web.get("/ops/referrals.csv", params={"partner": "3001", "status": "pending"})
    rows = parse(r.text)
    assert rid in [x["id"] for x in rows] and {x["partner"] for x in rows} == {"3001"}
    assert [x["external_ref"] for x in rows if x["id"] == rid] == ["'@crm-17"]


async def test_report_csv_has_one_row_per_assignment(
    h: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    await h.partners(partner("3101"), partner("3102"))
    handle = await h.start(referral(unique("FT-RCSV")))
    first = await h.assigned(handle)
    await h.act(handle, "decline", first, action="decline", reason="customer_unresponsive")
    second = await h.assigned(handle, seq=2)
    await ExternalRefs(h.sessions).set(handle.id, second, "OPP-2", datetime.now(UTC))

    ctx = Context(h.settings)
    args = build_parser().parse_args(["report", "--csv"])

    async def both_rows() -> bool:
        capsys.readouterr()
        await args.handler(ctx, args)
        rows = [x for x in parse(capsys.readouterr().out) if x["id"] == handle.id]
        return [x["outcome"] for x in rows] == ["declined", "pending"]

    try:
        await eventually(both_rows)
        await args.handler(ctx, args)
    finally:
        await ctx.close()
    text = capsys.readouterr().out
    assert text.startswith(BOM + ",".join(ASSIGNMENT_HEADER) + "\r\n")
    rows = [x for x in parse(text) if x["id"] == handle.id]
    assert [(x["seq"], x["partner"]) for x in rows] == [("1", first), ("2", second)]
    assert rows[0]["reason"] == "customer_unresponsive" and rows[0]["decided_at"].endswith("Z")
    assert rows[0]["answered_within_sla"] == "true" and rows[1]["external_ref"] == "OPP-2"
    assert rows[1]["answered_within_sla"] == "" and rows[1]["decided_at"] == ""


async def test_referral_show_names_each_partners_record_id(
    h: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    await h.partners(partner("3201"))
    handle = await h.start(referral(unique("FT-SHOW")))
    assert await h.assigned(handle) == "3201"
    await ExternalRefs(h.sessions).set(handle.id, "3201", "CRM-3201-7", datetime.now(UTC))
    ctx = Context(h.settings)
    try:
        for argv in (["referral", "show", handle.id], ["referral", "show", handle.id, "--json"]):
            args = build_parser().parse_args(argv)
            assert await args.handler(ctx, args) == 0
            out = capsys.readouterr().out
            if "--json" in argv:
                assert json.loads(out)["external_refs"] == {"3201": "CRM-3201-7"}
            else:
                assert "partner's record id: CRM-3201-7" in out
    finally:
        await ctx.close()
