"""The wire form of the product's emails: multipart/alternative (text, then HTML), written
directly as bytes.

The standard library's `EmailMessage` parses every header it is given into a header object
and folds it again on output, most of the cost of composing an email. The product's messages
always have the same shape, so they are written here with the encodings it would choose:

- headers: ASCII values as they are; non-ASCII ones as RFC 2047 encoded words (UTF-8);
  address lists one address per folded line when they would pass 78 characters;
- text part: 7bit when it is ASCII with lines of at most 78 characters, otherwise
  quoted-printable; HTML part: always quoted-printable (7-bit safe on the wire);
- CRLF line ends throughout; the boundary is derived from the message's content and
  cannot occur in a quoted-printable body.

`Outgoing.parsed()` gives the standard library's view of the same bytes (tests, screenshots).
"""

from __future__ import annotations

import binascii
import functools
import hashlib
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formataddr, getaddresses
from typing import cast

CRLF = "\r\n"
FOLD_AT = 78
ADDRESS_HEADERS = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender"})


class MimeError(ValueError):
    """A header cannot be written (a line break in a value, a non-ASCII address)."""


@dataclass(frozen=True)
class Outgoing:
    """A message ready for SMTP: its envelope and its bytes."""

    message_id: str
    sender: str  # the From address (no display name)
    to: list[str]
    cc: list[str]
    raw: bytes = field(repr=False)

    @property
    def recipients(self) -> list[str]:
        """To then Cc, de-duplicated (case-insensitively), in order."""
        out: list[str] = []
        seen: set[str] = set()
        for address in self.to + self.cc:
            if address.lower() not in seen:
                seen.add(address.lower())
                out.append(address)
        return out

    def parsed(self) -> EmailMessage:
        """The message as the standard library reads it."""
        return cast(EmailMessage, message_from_bytes(self.raw, policy=policy.default))


@functools.lru_cache(maxsize=4096)
def parse_addresses(value: str) -> tuple[tuple[str, str], ...]:
    """`email.utils.getaddresses` of one header value, remembered: a referral's few addresses
    come back in every email."""
    return tuple(getaddresses([value]))


def address_header(name: str, value: str) -> str:
    """`Name: a, b` with display names RFC 2047-encoded when needed, folded between
    addresses."""
    pairs = parse_addresses(value)
    items: list[str] = []
    for display, address in pairs:
        if not address.isascii():
            raise MimeError(f"{name}: non-ASCII address {address!r} needs SMTPUTF8")
        items.append(formataddr((display, address), charset="utf-8"))
    first = line = f"{name}:"
    out: list[str] = []
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if line != first and len(line) + 1 + len(piece) > FOLD_AT:
            out.append(line)
            line = ""
        line += " " + piece
    out.append(line)
    return CRLF.join(out)


def text_header(name: str, value: str) -> str:
    """An unstructured header: as is when ASCII, else RFC 2047 encoded words."""
    if "\n" in value or "\r" in value:
        raise MimeError(f"{name}: line break in header value")
    if value.isascii() and len(name) + 2 + len(value) <= 998:
        return f"{name}: {value}"
    return f"{name}: {encoded_words(value, len(name) + 2)}"


# RFC 2047 "Q" encoding: these bytes stand for themselves, a space is "_", others are =XX.
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-!*+/")
_Q_PREFIX, _Q_SUFFIX = "=?utf-8?q?", "?="
_WORD_MAX = 75  # RFC 2047: an encoded word is at most 75 characters


@functools.cache
def _q_char(char: str) -> str:
    return "".join(
        chr(byte) if byte in _Q_SAFE else "_" if byte == 0x20 else f"={byte:02X}"
        for byte in char.encode("utf-8")
    )


def encoded_words(value: str, used: int) -> str:
    """`value` as UTF-8 "Q" encoded words, folded so that lines stay within FOLD_AT (the
    first line already holds `used` characters); a character is never split across words."""
    overhead = len(_Q_PREFIX) + len(_Q_SUFFIX)
    room = min(_WORD_MAX, FOLD_AT - used) - overhead
    words: list[str] = []
    current: list[str] = []
    size = 0
    for char in value:
        piece = _q_char(char)
        if current and size + len(piece) > room:
            words.append(_Q_PREFIX + "".join(current) + _Q_SUFFIX)
            current, size = [], 0
            room = min(_WORD_MAX, FOLD_AT - 1) - overhead
        current.append(piece)
        size += len(piece)
    words.append(_Q_PREFIX + "".join(current) + _Q_SUFFIX)
    return (CRLF + " ").join(words)


def header(name: str, value: str) -> str:
    if name.lower() in ADDRESS_HEADERS:
        return address_header(name, value)
    return text_header(name, value)


def _body(text: str) -> str:
    """The body with LF line ends and a final one (added when missing, as the standard
    library does)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


def _lines(text: str) -> list[str]:
    """The body's lines (`_body` split at its line ends)."""
    return _body(text).removesuffix("\n").split("\n")


def _qp(text: str) -> str:
    encoded = binascii.b2a_qp(_body(text).encode("utf-8"), quotetabs=False, istext=True)
    return encoded.decode("ascii").replace("\n", CRLF)


def text_part(subtype: str, text: str, force_qp: bool = False) -> str:
    head = f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}Content-Transfer-Encoding: '
    if not force_qp and text.isascii():
        lines = _lines(text)
        if max(map(len, lines)) <= FOLD_AT:
            return f"{head}7bit{CRLF}{CRLF}" + CRLF.join(lines) + CRLF
    return f"{head}quoted-printable{CRLF}{CRLF}" + _qp(text)


def alternative(headers: list[tuple[str, str]], text: str, html: str) -> bytes:
    """The whole message: `headers` (name, value) in order, then the two parts."""
    plain = text_part("plain", text)
    rich = text_part("html", html, force_qp=True)
    digest = hashlib.sha256(f"{headers!r}".encode()).hexdigest()[:24]
    boundary = f"=_ft_{digest}"
    while boundary in plain:  # 7bit text could, in theory, contain it
        boundary += "_"
    head = [header(name, value) for name, value in headers]
    head += ["MIME-Version: 1.0", f'Content-Type: multipart/alternative; boundary="{boundary}"']
    # the line end before a delimiter belongs to the delimiter (RFC 2046), hence the CRLFs
    body = f"--{boundary}{CRLF}{plain}{CRLF}--{boundary}{CRLF}{rich}{CRLF}--{boundary}--{CRLF}"
    return (CRLF.join(head) + CRLF + CRLF + body).encode("ascii")
