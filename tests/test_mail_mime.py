"""The hand-written MIME form reads back, through the standard library's parser, as exactly
what was put in: headers (non-ASCII ones included), both bodies, line ends, line lengths."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from mail.compose import build_message
from mail.mime import MimeError, _body, _lines, address_header, text_header

NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
TEXT = "Hello,\n\nthe referral FT-1 is waiting.\n"
HTML = '<p style="color: #333">Hello — <a href="https://x.example/a?b=c&amp;d=e">open</a></p>\n'


def build(
    subject: str = "New referral FT-1",
    text: str = TEXT,
    html: str = HTML,
    to: list[str] | None = None,
    sender: str = "FastTrack Referrals <referrals@fasttrack.localhost>",
) -> tuple[bytes, EmailMessage]:
    out = build_message(
        "<FT-1.1.notification@fasttrack.localhost>",
        sender,
        to or ["referrals@contoso.example"],
        ["ae@microsoft.example"],
        subject,
        text,
        html,
        {"X-FastTrack-Kind": "notification"},
        NOW,
    )
    return out.raw, out.parsed()


def test_reads_back_as_written() -> None:
    _, m = build()
    assert m["Message-ID"] == "<FT-1.1.notification@fasttrack.localhost>"
    assert m["From"] == "FastTrack Referrals <referrals@fasttrack.localhost>"
    assert m["To"] == "referrals@contoso.example"
    assert m["Cc"] == "ae@microsoft.example"
    assert m["X-FastTrack-Kind"] == "notification"
    assert m["Date"].datetime == NOW
    assert m.get_content_type() == "multipart/alternative"
    plain: Any = m.get_body(("plain",))
    rich: Any = m.get_body(("html",))
    assert plain.get_content().replace("\r\n", "\n") == TEXT
    assert rich.get_content().replace("\r\n", "\n") == HTML
    assert rich["Content-Transfer-Encoding"] == "quoted-printable"
    assert plain["Content-Transfer-Encoding"] == "7bit"


def test_wire_form_is_7bit_with_crlf_and_short_lines() -> None:
    raw, _ = build(subject="Nouvelle référence – Fabrikam Ltd", text="Grüße\n" + "x" * 300 + "\n")
    assert raw.isascii()
    lines = raw.split(b"\r\n")
    assert b"\n" not in b"".join(lines) and b"\r" not in b"".join(lines)
    assert max(len(line) for line in lines) <= 78


def test_non_ascii_headers_and_bodies_round_trip() -> None:
    subject = "Nouvelle référence FT-1 – Fabrikam Ltd " + "é" * 80
    text = "Grüße aus München\n" + "x" * 300 + "\n"
    _, m = build(subject=subject, text=text, sender="Référent <ref@fasttrack.localhost>")
    assert m["Subject"] == subject
    assert m["From"].addresses[0].display_name == "Référent"
    plain: Any = m.get_body(("plain",))
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"
    assert plain.get_content().replace("\r\n", "\n") == text


@pytest.mark.parametrize(
    "subject",
    [
        "Neue FastTrack-Benefit-Empfehlung FT-2026-000123 – Fabrikam Ltd",
        "新しい紹介 FT-2026-000123 – ファブリカム株式会社" * 3,
        "a_b=c?d é  two spaces\ttab " * 12,
        "é",
    ],
)
def test_non_ascii_subjects_become_short_encoded_words_that_read_back(subject: str) -> None:
    raw, m = build(subject=subject)
    head = raw.split(b"\r\n\r\n")[0].decode("ascii")
    words = [word for line in head.split("\r\n") for word in line.split() if "=?" in word]
    assert words and all(len(word) <= 75 for word in words)
    assert max(len(line) for line in head.split("\r\n")) <= 78
    assert m["Subject"] == subject


def test_long_address_lists_fold_between_addresses() -> None:
    to = [f"someone.with.a.long.name{i}@partner-company.example" for i in range(12)]
    _, m = build(to=to)
    assert [a.addr_spec for a in m["To"].addresses] == to
    header = address_header("To", ", ".join(to))
    assert all(len(line) <= 78 for line in header.split("\r\n"))


def test_a_text_without_final_line_end_gets_one() -> None:
    _, m = build(text="no newline at the end")
    plain: Any = m.get_body(("plain",))
    assert plain.get_content().replace("\r\n", "\n") == "no newline at the end\n"


def test_header_injection_is_refused() -> None:
    with pytest.raises(MimeError, match="line break"):
        text_header("Subject", "hello\r\nBcc: victim@example.com")
    with pytest.raises(MimeError, match="SMTPUTF8"):
        address_header("To", "jürgen@example.de")


BODIES = ["a", "a\n", "a\r\nb", "a\rb\r\n", "\n\n", "", "x\n\n", "é\r\n\r\n"]


@pytest.mark.parametrize("text", BODIES)
def test_the_quoted_printable_body_is_the_lines_joined(text: str) -> None:
    assert _body(text) == "\n".join(_lines(text)) + "\n"
    assert _lines(text) == text.replace("\r\n", "\n").replace("\r", "\n").removesuffix("\n").split(
        "\n"
    )
