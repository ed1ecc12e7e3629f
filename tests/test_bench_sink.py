"""The benchmark sink reads the Message-ID and To of a message as the email package does, and
receives through its bulk DATA exactly what aiosmtpd's own DATA receives."""

from __future__ import annotations

from email.parser import BytesHeaderParser
from email.utils import getaddresses

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, Envelope

from bench.sink import _BulkDataSMTP, reported_headers, unstuffed
from mail import samples
from mail.compose import KINDS, compose
from runtime.smtp_sink import MailSink
from settings import Settings


@pytest.mark.parametrize("kind", KINDS)
def test_reported_headers_match_the_email_parser(kind: str) -> None:
    raw = compose(samples.request(kind), Settings()).outgoing.raw
    parsed = BytesHeaderParser().parsebytes(raw)
    expected_to = [a for _, a in getaddresses([str(v) for v in parsed.get_all("To", [])])]
    assert reported_headers(raw) == (str(parsed["Message-ID"]).strip(), expected_to)


def test_folded_headers_and_bare_newlines() -> None:
    raw = b"Subject: x\nTo: A <a@x.example>,\n B <b@x.example>\nMessage-ID: <1@x>\n\nTo: c@x\n"
    assert reported_headers(raw) == ("<1@x>", ["a@x.example", "b@x.example"])


class _Recording(MailSink):
    """A sink that keeps the raw bytes of what it received, with aiosmtpd's own DATA or the
    benchmark's bulk one."""

    def __init__(self, smtp_class: type[SMTP]) -> None:
        super().__init__(port=0, directory=None, echo=False)
        self.smtp_class = smtp_class
        self.raws: list[bytes] = []

    def _store(self, envelope: Envelope, peer: str = "") -> None:
        self.raws.append(bytes(envelope.original_content or b""))


MESSAGES = [
    b"Subject: one line\r\n\r\nx\r\n",
    b"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nends with a dot.\r\n.\r\nlast.\r\n",
    b"Subject: no final line end\r\n\r\nthe end.",
    b"Subject: empty body\r\n\r\n",
]


async def test_bulk_data_receives_what_aiosmtpd_receives() -> None:
    kinds = [compose(samples.request(kind), Settings()).outgoing.raw for kind in KINDS[:3]]
    received = []
    for smtp_class in (SMTP, _BulkDataSMTP):
        sink = _Recording(smtp_class)
        await sink.start("127.0.0.1", 0)
        try:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port)
            await client.connect()
            for raw in MESSAGES + kinds:
                await client.sendmail("a@x.example", ["b@x.example"], raw)
            await client.quit()
        finally:
            await sink.stop()
        received.append(sink.raws)
    assert len(received[1]) == len(MESSAGES) + len(kinds)
    assert received[1] == received[0]
    assert unstuffed(b".\r\n") == b""
