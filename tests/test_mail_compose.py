"""Email composition: headers, recipients, structure, links, deadline, Benefit vs Standard."""

from __future__ import annotations

import re
from dataclasses import replace
from email import message_from_bytes, policy
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import pytest

from domain.links import link_nonce, verify_link
from domain.models import EmailRequest
from mail import samples
from mail.compose import (
    KINDS,
    LINK_LIFETIME,
    OPS_KINDS,
    PARTNER_KINDS,
    TEAM_KINDS,
    ComposeError,
    as_sent,
    compose,
    shows_customer,
)
from mail.smtp import deliver
from runtime.smtp_sink import MailSink
from settings import Settings

SETTINGS = Settings(
    mail_from="FastTrack Referrals <referrals@fasttrack.localhost>",
    portal_url="https://portal.fasttrack.example",
    ops_email="ops@fasttrack.example",
)
MESSAGE_ID = re.compile(r"^<[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+>$")
LINKS = {
    "accept": "https://portal.fasttrack.example/act/accept-token",
    "decline": "https://portal.fasttrack.example/act/decline-token",
    "view": "https://portal.fasttrack.example/referrals/FT-2026-000123",
}


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]


def hrefs(html: str) -> list[str]:
    parser = _Hrefs()
    parser.feed(html)
    return parser.hrefs


def _parts(composed_message: object) -> list[tuple[str, str]]:
    return [(p.get_content_type(), p.get_content()) for p in composed_message.iter_parts()]  # type: ignore[attr-defined]


@pytest.mark.parametrize("referral_type", ["benefit", "standard"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_with_realistic_data(kind: str, referral_type: str) -> None:
    c = compose(samples.request(kind, referral_type), SETTINGS, LINKS)
    assert "FT-2026-000123" in c.subject
    assert c.text.strip() and c.html.strip()
    names = shows_customer(samples.request(kind, referral_type))  # not to a let-go partner
    for body in (c.text, c.html):
        assert "Undefined" not in body and "{{" not in body and "{%" not in body
        assert ("Fabrikam Ltd" in body) == names
    assert names or "Fabrikam" not in c.subject
    assert c.message.get_content_type() == "multipart/alternative"
    assert [t for t, _ in _parts(c.message)] == ["text/plain", "text/html"]
    assert MESSAGE_ID.match(c.message_id)
    assert c.message["Message-ID"] == c.message_id
    assert c.message["Date"]
    assert c.message["From"] == SETTINGS.mail_from
    for href in hrefs(c.html):
        url = urlparse(href)
        assert url.scheme in ("http", "https") and url.netloc, href


def test_notification_headers_and_recipients() -> None:
    c = compose(samples.request("notification"), SETTINGS, LINKS)
    assert c.to == ["referrals@contoso.example"]
    assert c.cc == ["ae.fabrikam@microsoft.example", "csm.fabrikam@microsoft.example"]
    assert c.message["To"] == "referrals@contoso.example"
    assert c.message["Cc"] == "ae.fabrikam@microsoft.example, csm.fabrikam@microsoft.example"
    assert c.message["Subject"] == c.subject
    assert "FT-2026-000123" in str(c.message["Subject"])
    assert c.message_id == "<FT-2026-000123.2.notification@fasttrack.localhost>"


def test_notification_body_has_the_referral_details() -> None:
    c = compose(samples.request("notification"), SETTINGS, LINKS)
    for body in (c.text, c.html):
        assert "Germany (DE)" in body
        assert "German (de)" in body
        assert "2,400" in body
        assert "Commercial" in body
        assert "Microsoft Teams" in body and "Microsoft Entra ID" in body
        assert "SharePoint Online" in body
        assert "18%" in body and "5%" in body and "62%" in body
        assert "Teams Phone for 600 users" in body
        assert "Jana Richter" in body
        assert "Tuesday, December 1, 2026, 3:00\u202fPM CET" in body
        assert "entra_id" not in body


def test_links_present_and_valid() -> None:
    c = compose(samples.request("notification"), SETTINGS, LINKS)
    found = hrefs(c.html)
    for url in LINKS.values():
        assert url in found
        assert url in c.text


def test_links_fall_back_to_the_portal_view() -> None:
    c = compose(samples.request("notification"), SETTINGS, None)
    view = "https://portal.fasttrack.example/referrals/FT-2026-000123"
    assert set(hrefs(c.html)) == {view}
    assert c.text.count(view) == 3  # accept, decline and details all point at the view page
    partial = compose(samples.request("notification"), SETTINGS, {"view": LINKS["view"]})
    assert set(hrefs(partial.html)) == {LINKS["view"]}


def test_benefit_and_standard_look_different() -> None:
    benefit = compose(samples.request("notification", "benefit"), SETTINGS, LINKS)
    standard = compose(samples.request("notification", "standard"), SETTINGS, LINKS)
    assert "Benefit" in benefit.subject and "Standard" in standard.subject
    assert "FastTrack Benefit referral" in benefit.html
    assert "Standard referral" in standard.html
    assert "#0f5bb5" in benefit.html and "#107c41" not in benefit.html  # blue banner
    assert "#107c41" in standard.html and "#0f5bb5" not in standard.html  # green banner
    assert "FastTrack Benefit" in benefit.text and "FastTrack Benefit" not in standard.text


def test_css_is_inlined() -> None:
    c = compose(samples.request("notification"), SETTINGS, LINKS)
    banner = re.search(r'<td class="banner banner-benefit"[^>]*style="([^"]+)"', c.html)
    assert banner and "background-color: #0f5bb5" in banner.group(1)
    assert "@media" in c.html  # responsive rules kept in a <style> block
    assert "max-width: 600px" in c.html


def test_message_id_is_deterministic_and_unique() -> None:
    ids = set()
    for kind in KINDS:
        for seq in (1, 2):
            request = replace(samples.request(kind), seq=seq)
            first = compose(request, SETTINGS, LINKS).message_id
            assert compose(request, SETTINGS, LINKS).message_id == first
            ids.add(first)
    assert len(ids) == 2 * len(KINDS)


def test_message_id_is_sanitized() -> None:
    request = replace(samples.request("reminder"), scope_id="FT 2026/000123<part> 1")
    c = compose(request, replace(SETTINGS, mail_from="Odd <x@mail.fast track.example>"), LINKS)
    assert MESSAGE_ID.match(c.message_id), c.message_id
    assert c.message_id.startswith("<FT-2026-000123-part-1.2.reminder@")


def test_delivery_failures_of_one_assignment_stay_distinct() -> None:
    base = samples.request("delivery_failure")
    a = compose(base, SETTINGS, LINKS).message_id
    b = compose(replace(base, detail={**base.detail, "kind": "team_assigned"}), SETTINGS).message_id
    assert a != b


@pytest.mark.parametrize("kind", TEAM_KINDS)
def test_team_kinds_go_to_the_account_team_or_operations(kind: str) -> None:
    request = samples.request(kind)
    c = compose(request, SETTINGS, LINKS)
    assert c.to == request.referral.account_team and c.cc == []
    orphan = replace(request, referral=replace(request.referral, account_team=[]))
    assert compose(orphan, SETTINGS, LINKS).to == ["ops@fasttrack.example"]


@pytest.mark.parametrize("kind", OPS_KINDS)
def test_ops_kinds_go_to_operations(kind: str) -> None:
    c = compose(samples.request(kind), SETTINGS, LINKS)
    assert c.to == ["ops@fasttrack.example"] and c.cc == []


@pytest.mark.parametrize("kind", [k for k in PARTNER_KINDS if k != "notification"])
def test_partner_kinds_other_than_notification_copy_nobody(kind: str) -> None:
    c = compose(samples.request(kind), SETTINGS, LINKS)
    assert c.to == ["referrals@contoso.example"] and c.cc == []


def test_deadline_falls_back_to_due_at_in_partner_zone() -> None:
    request = replace(samples.request("notification"), detail={})
    c = compose(request, SETTINGS, LINKS)
    assert "Tuesday, December 1, 2026, 3:00\u202fPM CET" in c.text and "3:00\u202fPM CET" in c.html
    assert request.partner is not None
    tokyo = replace(request, partner=replace(request.partner, timezone="Asia/Tokyo"))
    assert "Tuesday, December 1, 2026, 11:00\u202fPM JST" in compose(tokyo, SETTINGS, LINKS).text


def test_split_part_shows_only_its_workloads() -> None:
    request = replace(samples.request("notification"), workloads=["entra_id"])
    c = compose(request, SETTINGS, LINKS)
    assert "Microsoft Entra ID" in c.html and "62%" in c.html
    assert "18%" not in c.html
    assert "shared between partners" in c.text and "covers 1 workload of the 3" in c.text


def test_html_escapes_user_text() -> None:
    request = samples.request("notification")
    request.referral.customer.name = "Fabrikam <script>alert(1)</script>"
    request.referral.notes = "Needs <b>help</b> & more"
    c = compose(request, SETTINGS, LINKS)
    assert "<script>" not in c.html and "&lt;script&gt;" in c.html
    assert "<b>help</b>" not in c.html
    assert "<script>alert(1)</script>" in c.text


def test_detail_values_show_as_words() -> None:
    ack = compose(samples.request("decline_ack"), SETTINGS, LINKS)
    assert "Requested language not supported" in ack.text
    done = compose(samples.request("team_completed"), SETTINGS, LINKS)
    assert "12,000" in done.html and "Yes" in done.html
    escalation = compose(samples.request("escalation"), SETTINGS, LINKS)
    assert "4711007" in escalation.html and "Excluded" in escalation.html


def test_invalid_requests_are_refused() -> None:
    with pytest.raises(ComposeError, match="unknown email kind"):
        compose(replace(samples.request("reminder"), kind="spam"), SETTINGS)
    with pytest.raises(ComposeError, match="needs the partner"):
        compose(replace(samples.request("notification"), partner=None), SETTINGS)
    with pytest.raises(ComposeError, match="needs detail message"):
        compose(replace(samples.request("decline_refused"), detail={}), SETTINGS)
    with pytest.raises(ComposeError, match="failed_message_id, error"):
        compose(replace(samples.request("delivery_failure"), detail={"kind": "x"}), SETTINGS)


def test_optional_parts_may_be_missing() -> None:
    """No notes, no account team, no requester, no due date: still renders (StrictUndefined)."""
    for kind in KINDS:
        request: EmailRequest = samples.request(kind)
        ref = request.referral
        ref.notes, ref.account_team, ref.active_usage = "", [], {}
        ref.requested_by = replace(ref.requested_by, name="", email="", microsoft=False)
        request.due_at = None
        request.detail.pop("due_local", None)
        request.detail.pop("note", None)
        c = compose(request, SETTINGS)
        assert "FT-2026-000123" in c.subject


async def test_every_kind_travels_through_a_real_smtp_server(tmp_path: Path) -> None:
    async with MailSink(port=0, directory=tmp_path, echo=False) as sink:
        settings = replace(SETTINGS, smtp_host="127.0.0.1", smtp_port=sink.port, smtp_timeout=5)
        sent = [compose(samples.request(kind), settings, LINKS) for kind in KINDS]
        for c in sent:
            await deliver(c.outgoing, settings)
        received = await sink.wait_for(len(sent))
    assert [str(m["Message-ID"]) for m in received] == [c.message_id for c in sent]
    for c, got, envelope in zip(sent, received, sink.received, strict=True):
        assert str(got["Subject"]) == c.subject
        assert envelope.rcpt_tos == c.to + c.cc
        body = got.get_body(("plain",))
        html = got.get_body(("html",))
        assert body is not None and html is not None
        assert body.get_content().replace("\r\n", "\n") == c.text
        reparsed = message_from_bytes(envelope.path.read_bytes(), policy=policy.default)  # type: ignore[union-attr]
        assert str(reparsed["Message-ID"]) == c.message_id


def test_the_message_as_sent_carries_links_signed_for_its_own_message_id() -> None:
    request = samples.request("notification")
    assert request.partner is not None and request.due_at is not None
    sent = as_sent(request, SETTINGS)
    assert sent.message_id == compose(request, SETTINGS).message_id
    tokens = set(re.findall(rf"{SETTINGS.portal_url}/act/([A-Za-z0-9_.=-]+)", sent.text))
    secret = SETTINGS.link_secret.get_secret_value()
    claims = [verify_link(secret, token, request.due_at) for token in tokens]
    assert sorted(c.action for c in claims) == ["accept", "decline"]
    for c in claims:
        assert (c.workflow_id, c.partner) == (request.scope_id, request.partner.mpn_id)
        assert c.nonce == link_nonce(sent.message_id, c.action)
        assert c.expires_at == request.due_at + LINK_LIFETIME
    reminder = samples.request("reminder")
    assert as_sent(reminder, SETTINGS).text == compose(reminder, SETTINGS).text


def test_the_contact_overdue_email_says_the_partner_was_reminded_only_when_it_was() -> None:
    """A contact window shorter than a business day gets no reminder (`domain.reminders`)."""
    request = samples.request("contact_overdue", "benefit")
    for reminded, said in (("yes", True), ("no", False)):
        c = compose(replace(request, detail={**request.detail, "reminded": reminded}), SETTINGS)
        assert all(("We have reminded them." in body) == said for body in (c.text, c.html))
        assert "Reminded" not in c.text  # not listed among the facts


def test_the_reminders_say_what_is_due_today() -> None:
    """They come at the start of the partner's last business day before the due time."""
    answer = compose(samples.request("reminder", "benefit"), SETTINGS, LINKS)
    assert "your answer is due today" in answer.text and "half" not in answer.text
    contact = compose(samples.request("contact_reminder", "benefit"), SETTINGS, LINKS)
    assert "Please reach out today" in contact.text and "was due" not in contact.text


def test_a_parts_escalation_names_the_part_in_its_retry_command() -> None:
    """Retrying the parent is refused (it is split): operations are told to retry the part."""
    sample = samples.request("escalation")
    part = f"{sample.referral.referral_id}.part2"
    escalation = compose(replace(sample, scope_id=part), SETTINGS, LINKS)
    assert f"referral retry {part}" in escalation.text
    assert f"referral retry {part}<" in escalation.html


def test_an_escalations_why_is_worded_in_operations_language() -> None:
    """From the match's values (the workflow's `why` is English, for the CLI)."""
    german = replace(SETTINGS, program_locale="de")
    escalation = compose(samples.request("escalation"), german, LINKS)
    why = "Kein geeigneter Partner deckt Microsoft Entra ID ab. 14 Partner geprüft."
    assert why in escalation.text and why in escalation.html
    assert "no eligible partner covers" not in escalation.text
