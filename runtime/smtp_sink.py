"""A local SMTP sink for the demo and the tests (aiosmtpd, runs in the caller's event loop).

    python -m runtime.smtp_sink [--host 127.0.0.1] [--port 1025] [--dir var/mail]

Every accepted message is written to `<dir>/<UTC timestamp>-<message-id>.eml`, announced on
stdout as `mail: <to> | <subject>` and kept in `MailSink.messages`. For tests, `fail_next()`
makes the next N RCPT and/or DATA commands answer with a temporary or permanent error.

    async with MailSink(port=0) as sink:        # port 0: any free port, see sink.port
        sink.fail_next(1, MailSink.TEMPORARY)   # next RCPT/DATA -> 451 4.3.0 Try again later
        ...
        await sink.wait_for(1)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from runtime.atomic import write_atomic
from settings import VAR_DIR

DEFAULT_DIR = VAR_DIR / "mail"
_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


@dataclass
class Fault:
    """Answer the next `remaining` matching commands with `reply` instead of accepting."""

    remaining: int
    reply: str
    commands: tuple[str, ...] = ("RCPT", "DATA")


@dataclass
class Received:
    message: EmailMessage
    mail_from: str
    rcpt_tos: list[str]
    path: Path | None = None
    raw: bytes = field(default=b"", repr=False)
    peer: str = ""  # the client's address and port: one per connection


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        reply = self.sink._take_fault("MAIL")
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.sink._take_fault("RCPT")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = self.sink._take_fault("DATA")
        if reply:
            return reply
        self.sink._store(envelope, str(session.peer or ""))
        return "250 Message accepted for delivery"


class MailSink:
    smtp_class: type[SMTP] = SMTP  # the protocol each connection gets

    TEMPORARY = "451 4.3.0 Try again later"
    PERMANENT = "550 5.1.1 No such user"
    CLOSING = "421 4.3.2 Service shutting down"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1025,
        directory: Path | str | None = DEFAULT_DIR,
        echo: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.directory = Path(directory) if directory is not None else None
        self.echo = echo
        self.messages: list[EmailMessage] = []  # every accepted message, in arrival order
        self.received: list[Received] = []  # the same, with envelope and file path
        self.fault: Fault | None = None
        self._server: asyncio.AbstractServer | None = None
        self._arrived = asyncio.Condition()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, host: str | None = None, port: int | None = None) -> MailSink:
        """Listen (port 0 picks a free port; the bound one is then in `self.port`)."""
        self.host = host or self.host
        self.port = self.port if port is None else port
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        handler = _Handler(self)
        protocol = self.smtp_class
        self._server = await loop.create_server(
            lambda: protocol(handler, hostname="fasttrack-sink", ident="FastTrack mail sink"),
            self.host,
            self.port,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=2)
            self._server = None

    async def __aenter__(self) -> MailSink:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- test helpers ---------------------------------------------------------------------

    def fail_next(
        self, count: int = 1, reply: str = TEMPORARY, commands: tuple[str, ...] = ("RCPT", "DATA")
    ) -> None:
        """Answer the next `count` of `commands` (MAIL, RCPT, DATA) with `reply` (e.g.
        `MailSink.PERMANENT`, `MailSink.CLOSING`)."""
        self.fault = Fault(count, reply, tuple(c.upper() for c in commands)) if count > 0 else None

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """Wait until at least `count` messages arrived; return them all."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.messages) >= count)
        return list(self.messages)

    def clear(self) -> None:
        self.messages.clear()
        self.received.clear()

    # -- internals ------------------------------------------------------------------------

    def _take_fault(self, command: str) -> str | None:
        fault = self.fault
        if fault is None or command not in fault.commands or fault.remaining <= 0:
            return None
        fault.remaining -= 1
        if fault.remaining == 0:
            self.fault = None
        return fault.reply

    def _store(self, envelope: Envelope, peer: str = "") -> None:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        message: Any = message_from_bytes(raw, policy=policy.default)
        path = None
        if self.directory is not None:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
            mid = _UNSAFE.sub("_", str(message.get("Message-ID", "no-id")).strip("<> ")) or "no-id"
            path = self.directory / f"{stamp}-{mid[:150]}.eml"
            write_atomic(path, raw, sync=False)  # a reader of the folder never sees half a message
        self.messages.append(message)
        self.received.append(
            Received(message, envelope.mail_from or "", list(envelope.rcpt_tos), path, raw, peer)
        )
        if self.echo:
            print(f"mail: {message.get('To', '')} | {message.get('Subject', '')}", flush=True)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._arrived:
            self._arrived.notify_all()


async def _serve(host: str, port: int, directory: Path) -> None:
    sink = await MailSink(host, port, directory).start()
    print(f"SMTP sink listening on {sink.host}:{sink.port}, saving to {directory}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # handled here, not left to KeyboardInterrupt: a process started in the background by a
    # shell inherits SIGINT ignored, and Ctrl-C or SIGINT must still stop the sink
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sink.stop()
    print("SMTP sink stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local SMTP sink: stores every message as .eml")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="folder for .eml files")
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args.host, args.port, args.dir))
    except KeyboardInterrupt:
        print("SMTP sink stopped", flush=True)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
