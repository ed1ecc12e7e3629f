"""Deliver one message over SMTP (aiosmtplib), classifying failures as temporary or permanent.

`deliver` opens a connection per message; a `MailSession` sends several over one, and with a
`MailPool` it takes a connection a finished session left open instead of opening one, saving
the connect, greeting, EHLO and QUIT round trips of every change's emails.
`settings.smtp_timeout` bounds every network step (connect + greeting, each command, the data
transfer). STARTTLS is required when `settings.smtp_starttls` is true and not attempted
otherwise; port 465 uses implicit TLS.

Failure classes (each exception carries a one-line message and the SMTP `code` when known):

- `TemporaryMailError`: 4xx replies, connection refused/reset, timeouts, disconnects: retry.
- `PermanentMailError`: 5xx replies (including every recipient refused with 5xx), invalid
  or missing addresses, TLS certificate problems, a required extension (STARTTLS, AUTH)
  missing on the server: do not retry.

Partial refusal is decided after RCPT and before DATA, so a retry never doubles a copy: any
temporary (4xx) refusal defers the whole message (RSET, TemporaryMailError); a `To` recipient
refused permanently fails it (PermanentMailError); `Cc` recipients refused permanently alone
are logged and the others get the message.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from email.utils import parseaddr

import aiosmtplib

from mail.mime import Outgoing
from settings import Settings

log = logging.getLogger(__name__)

IMPLICIT_TLS_PORT = 465


class MailError(Exception):
    """Sending failed; `str(error)` is one line."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(" ".join(message.split()))
        self.code = code

    @property
    def temporary(self) -> bool:
        return isinstance(self, TemporaryMailError)


class TemporaryMailError(MailError):
    """Worth retrying later (4xx, network trouble, timeout)."""


class PermanentMailError(MailError):
    """Retrying will not help (5xx, bad address, configuration)."""


def _is_address(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(at and local and domain) and not any(c.isspace() for c in address)


async def deliver(message: Outgoing, settings: Settings) -> None:
    """Send `message` to its To and Cc recipients, or raise a `MailError`."""
    async with MailSession(settings) as session:
        await session.send(message)


async def _quit(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()


class MailPool:
    """SMTP connections that finished sessions left open, for the next session to reuse.

    At most `size` are kept, each for `idle` seconds (servers drop idle clients after a few
    minutes; RFC 5321 suggests 5); only on the event loop that opened them. A kept connection
    the server has dropped meanwhile fails at its first command, before anything was sent:
    the session then opens a new one (`MailSession`)."""

    def __init__(self, size: int = 16, idle: float = 30.0) -> None:
        self._size = size
        self._idle = idle
        self._kept: list[tuple[float, asyncio.AbstractEventLoop, aiosmtplib.SMTP]] = []

    def take(self) -> aiosmtplib.SMTP | None:
        """A kept connection (the most recently used), or None."""
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        while self._kept:
            since, owner, client = self._kept.pop()
            if owner is loop and client.is_connected and now - since < self._idle:
                return client
            if owner is loop:
                client.close()
        return None

    async def give_back(self, client: aiosmtplib.SMTP) -> None:
        if len(self._kept) < self._size and client.is_connected:
            self._kept.append((time.monotonic(), asyncio.get_running_loop(), client))
        else:
            await _quit(client)

    def discard(self) -> None:
        """Close every kept connection without a word (the server is gone)."""
        kept, self._kept = self._kept, []
        loop = asyncio.get_running_loop()
        for _, owner, client in kept:
            if owner is loop:
                client.close()

    async def close(self) -> None:
        """QUIT every kept connection (worker shutdown)."""
        kept, self._kept = self._kept, []
        loop = asyncio.get_running_loop()
        for _, owner, client in kept:
            if owner is loop:
                await _quit(client)


class MailSession:
    """Several messages over one SMTP connection: opened on the first `send` (or taken from
    `pool`), closed at the end (or given back to `pool`), and dropped after a failure so the
    next message starts on a fresh one."""

    def __init__(self, settings: Settings, pool: MailPool | None = None) -> None:
        self._settings = settings
        self._where = f"SMTP {settings.smtp_host}:{settings.smtp_port}"
        self._client: aiosmtplib.SMTP | None = None
        self._pool = pool
        self._reused = False  # the current connection came from the pool, unused so far

    async def __aenter__(self) -> MailSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        if self._pool is not None:
            await self._pool.give_back(client)
        else:
            await _quit(client)

    async def send(self, message: Outgoing) -> None:
        """Send `message` to its To and Cc recipients, or raise a `MailError`."""
        recipients = message.recipients
        if not recipients:
            raise PermanentMailError("message has no recipients (To/Cc are empty)")
        bad = [a for a in recipients if not _is_address(a)]
        if bad:
            raise PermanentMailError(f"invalid recipient address: {', '.join(bad)}")
        sender = parseaddr(self._settings.mail_from)[1] or message.sender
        if not _is_address(sender):
            raise PermanentMailError(f"invalid sender address: {self._settings.mail_from!r}")
        try:
            await self._transaction(sender, recipients, message)
            return
        except TemporaryMailError:
            if not self._drop():
                raise
        except BaseException:
            self._drop()
            raise
        # A kept connection failed before sending anything: the server had dropped it, and
        # likely the other kept ones too (a restart). Send over a new connection.
        if self._pool is not None:
            self._pool.discard()
        try:
            await self._transaction(sender, recipients, message)
        except BaseException:
            self._drop()
            raise

    def _drop(self) -> bool:
        """Close the current connection (a failed session is not reused); True when it was a
        kept one failing before it sent anything."""
        client, self._client = self._client, None
        if client is not None:
            client.close()
        reused, self._reused = self._reused, False
        return reused

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        kept = self._pool.take() if self._pool is not None else None
        if kept is not None:
            self._client, self._reused = kept, True
            return kept
        settings = self._settings
        implicit_tls = settings.smtp_port == IMPLICIT_TLS_PORT and not settings.smtp_starttls
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            use_tls=implicit_tls,
            start_tls=bool(settings.smtp_starttls) if not implicit_tls else False,
            timeout=settings.smtp_timeout,
        )
        self._client = client
        await client.connect()
        if settings.smtp_username:
            password = settings.smtp_password
            await client.login(
                settings.smtp_username, password.get_secret_value() if password else ""
            )
        return client

    async def _transaction(self, sender: str, recipients: list[str], message: Outgoing) -> None:
        where, settings = self._where, self._settings
        try:
            client = await self._connected()
            await client.mail(sender)
            self._reused = False  # the kept connection works: what fails now is not retried
            refused: dict[str, aiosmtplib.SMTPResponse] = {}
            for rcpt in recipients:
                try:
                    await client.rcpt(rcpt)
                except aiosmtplib.SMTPRecipientRefused as exc:
                    refused[rcpt] = aiosmtplib.SMTPResponse(exc.code, exc.message)
            problem = _refusal_problem(where, message, recipients, refused)
            if problem is not None:
                await client.rset()  # before DATA: nobody gets a copy, the retry sends to all
                raise problem
            await client.data(message.raw)
        except MailError:
            raise
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise _from_refusals(where, exc.recipients) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise _by_code(f"{where}: {exc.code} {exc.message}", exc.code) from None
        except aiosmtplib.SMTPTimeoutError as exc:
            raise TemporaryMailError(
                f"{where}: timed out after {settings.smtp_timeout:g}s ({exc.message})"
            ) from None
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected) as exc:
            raise TemporaryMailError(f"{where}: {exc.message}") from None
        except aiosmtplib.SMTPException as exc:  # e.g. STARTTLS/AUTH/SMTPUTF8 not supported
            raise PermanentMailError(f"{where}: {exc.message}") from None
        except ssl.SSLCertVerificationError as exc:
            raise PermanentMailError(
                f"{where}: TLS certificate rejected ({exc.verify_message})"
            ) from None
        except (TimeoutError, OSError) as exc:
            raise TemporaryMailError(f"{where}: {type(exc).__name__}: {exc}") from None


def _by_code(text: str, code: int | None) -> MailError:
    if code is not None and 500 <= code < 600:
        return PermanentMailError(text, code)
    return TemporaryMailError(text, code)


def _from_refusals(where: str, refusals: list[aiosmtplib.SMTPRecipientRefused]) -> MailError:
    listed = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in refusals)
    codes = [r.code for r in refusals]
    permanent = bool(codes) and all(500 <= c < 600 for c in codes)
    code = max(codes) if permanent else min(codes, default=None)
    return _by_code(f"{where}: every recipient refused ({listed})", code)


def _refusal_problem(
    where: str,
    message: Outgoing,
    recipients: list[str],
    refused: dict[str, aiosmtplib.SMTPResponse],
) -> MailError | None:
    """Decide, after RCPT and before DATA, whether to send at all.

    Any temporary refusal defers the whole message (sent to everyone on retry, so nobody gets
    it twice); a permanent refusal of a `To` recipient fails it; permanent refusals of `Cc`
    recipients alone are logged and the others get the message."""
    if not refused:
        return None
    listed = "; ".join(f"{a}: {r.code} {r.message}" for a, r in refused.items())
    if len(refused) == len(recipients):
        return _from_refusals(
            where,
            [aiosmtplib.SMTPRecipientRefused(r.code, r.message, a) for a, r in refused.items()],
        )
    temporary = [r.code for r in refused.values() if not 500 <= r.code < 600]
    if temporary:
        return TemporaryMailError(
            f"{where}: deferred, some recipients refused for now ({listed})", min(temporary)
        )
    to = {a.lower() for a in message.to}
    main = {addr: reply for addr, reply in refused.items() if addr.lower() in to}
    if main:
        code = min(r.code for r in main.values())
        return _by_code(f"{where}: main recipient refused: {listed}", code)
    log.warning("%s: delivered, but some Cc recipients were refused (%s)", where, listed)
    return None
