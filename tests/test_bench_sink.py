"""The benchmark sink reads the Message-ID and To of a message as the email package does."""

from __future__ import annotations

from email.parser import BytesHeaderParser
from email.utils import getaddresses

import pytest

from bench.sink import reported_headers
from mail import samples
from mail.compose import KINDS, compose
from runtime.settings import Settings


@pytest.mark.parametrize("kind", KINDS)
def test_reported_headers_match_the_email_parser(kind: str) -> None:
    raw = compose(samples.request(kind), Settings()).outgoing.raw
    parsed = BytesHeaderParser().parsebytes(raw)
    expected_to = [a for _, a in getaddresses([str(v) for v in parsed.get_all("To", [])])]
    assert reported_headers(raw) == (str(parsed["Message-ID"]).strip(), expected_to)


def test_folded_headers_and_bare_newlines() -> None:
    raw = b"Subject: x\nTo: A <a@x.example>,\n B <b@x.example>\nMessage-ID: <1@x>\n\nTo: c@x\n"
    assert reported_headers(raw) == ("<1@x>", ["a@x.example", "b@x.example"])
