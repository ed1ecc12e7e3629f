"""SMTP delivery against a real aiosmtpd server: success, 4xx/5xx, refused, silent server."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiosmtplib
import pytest
import pytest_asyncio

from mail import samples
from mail.compose import compose
from mail.mime import Outgoing
from mail.smtp import (
    MailError,
    MailPool,
    MailSession,
    PermanentMailError,
    TemporaryMailError,
    deliver,
)
from runtime.smtp_sink import MailSink
from settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(port: int, timeout: float = 5.0) -> Settings:
    return Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_timeout=timeout)


def _message(settings: Settings) -> Outgoing:
    return compose(samples.request("notification"), settings, samples.links()).outgoing


@pytest_asyncio.fixture
async def sink(tmp_path: Path) -> AsyncIterator[MailSink]:
    async with MailSink(port=0, directory=tmp_path / "mail", echo=True) as s:
        yield s


async def test_delivers_to_to_and_cc(sink: MailSink, capsys: pytest.CaptureFixture[str]) -> None:
    settings = _settings(sink.port)
    message = _message(settings)
    await deliver(message, settings)
    [got] = await sink.wait_for(1)
    assert got["Message-ID"] == message.message_id
    assert sink.received[0].rcpt_tos == [
        "referrals@contoso.example",
        "ae.fabrikam@microsoft.example",
        "csm.fabrikam@microsoft.example",
    ]
    assert sink.received[0].mail_from == "referrals@fasttrack.localhost"
    path = sink.received[0].path
    assert path is not None and path.exists()
    assert path.name.endswith("-FT-2026-000123.2.notification@fasttrack.localhost.eml")
    out = capsys.readouterr().out
    assert f"mail: referrals@contoso.example | {message.parsed()['Subject']}" in out


@pytest.mark.parametrize("command", ["RCPT", "DATA"])
async def test_4xx_is_temporary(sink: MailSink, command: str) -> None:
    settings = _settings(sink.port)
    sink.fail_next(3, MailSink.TEMPORARY, (command,))
    with pytest.raises(TemporaryMailError) as err:
        await deliver(_message(settings), settings)
    assert err.value.code == 451 and err.value.temporary
    assert "451" in str(err.value) and "\n" not in str(err.value)
    assert sink.messages == []


@pytest.mark.parametrize("command", ["RCPT", "DATA"])
async def test_5xx_is_permanent(sink: MailSink, command: str) -> None:
    settings = _settings(sink.port)
    sink.fail_next(3, MailSink.PERMANENT, (command,))
    with pytest.raises(PermanentMailError) as err:
        await deliver(_message(settings), settings)
    assert err.value.code == 550 and not err.value.temporary
    assert "550 5.1.1 No such user" in str(err.value)
    assert "\n" not in str(err.value)


async def test_refused_main_recipient_fails_before_anyone_gets_it(sink: MailSink) -> None:
    settings = _settings(sink.port)
    sink.fail_next(1, MailSink.PERMANENT, ("RCPT",))  # only the first RCPT (the To address)
    with pytest.raises(PermanentMailError, match="main recipient refused"):
        await deliver(_message(settings), settings)
    assert sink.received == []


async def test_one_recipient_deferred_defers_the_whole_message(sink: MailSink) -> None:
    """451 on one recipient while others are accepted: nobody gets it now, everybody once on
    the retry (a partial delivery followed by a retry would give the others two copies)."""
    settings = _settings(sink.port)
    sink.fail_next(1, MailSink.TEMPORARY, ("RCPT",))
    with pytest.raises(TemporaryMailError, match="deferred"):
        await deliver(_message(settings), settings)
    assert sink.received == []
    await deliver(_message(settings), settings)
    assert len(sink.received) == 1
    assert len(sink.received[0].rcpt_tos) == 3


async def test_fault_is_used_up_then_delivery_succeeds(sink: MailSink) -> None:
    settings = _settings(sink.port)
    sink.fail_next(1, MailSink.TEMPORARY, ("DATA",))
    message = _message(settings)
    with pytest.raises(TemporaryMailError):
        await deliver(message, settings)
    await deliver(message, settings)  # the retry goes through
    assert len(await sink.wait_for(1)) == 1


async def test_connection_refused_is_temporary() -> None:
    settings = _settings(_free_port())
    with pytest.raises(TemporaryMailError) as err:
        await deliver(_message(settings), settings)
    assert "\n" not in str(err.value)


async def test_silent_server_times_out_as_temporary() -> None:
    connections: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)  # accept, never greet

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = _settings(port, timeout=1.0)
    try:
        started = time.monotonic()
        with pytest.raises(TemporaryMailError, match="timed out after 1s"):
            await deliver(_message(settings), settings)
        assert time.monotonic() - started < 3
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_server_hanging_up_is_temporary() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    settings = _settings(server.sockets[0].getsockname()[1])
    try:
        with pytest.raises(TemporaryMailError):
            await deliver(_message(settings), settings)
    finally:
        server.close()
        await server.wait_closed()


async def test_invalid_addresses_are_permanent(sink: MailSink) -> None:
    settings = _settings(sink.port)
    message = replace(_message(settings), to=[], cc=[])
    with pytest.raises(PermanentMailError, match="no recipients"):
        await deliver(message, settings)
    message = replace(message, to=["not-an-address"])
    with pytest.raises(PermanentMailError, match="invalid recipient address: not-an-address"):
        await deliver(message, settings)
    with pytest.raises(PermanentMailError, match="invalid sender"):
        await deliver(_message(settings), replace(settings, mail_from="nobody"))
    assert sink.messages == []


async def test_starttls_required_but_unsupported_is_permanent(sink: MailSink) -> None:
    settings = replace(_settings(sink.port), smtp_starttls=True)
    with pytest.raises(PermanentMailError, match="STARTTLS"):
        await deliver(_message(settings), settings)


def test_errors_share_a_base_class() -> None:
    assert issubclass(TemporaryMailError, MailError)
    assert issubclass(PermanentMailError, MailError)
    assert str(TemporaryMailError("a\n  b")) == "a b"


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell's background job starts it


@pytest.mark.parametrize("started_in_background", [False, True])
async def test_sink_runs_as_a_program(tmp_path: Path, started_in_background: bool) -> None:
    port = _free_port()
    folder = tmp_path / "eml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime.smtp_sink", "--port", str(port), "--dir", str(folder)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_ignore_sigint if started_in_background else None,
    )
    try:
        assert proc.stdout is not None
        assert "listening" in proc.stdout.readline()
        settings = _settings(port)
        message = _message(settings).parsed()
        await aiosmtplib.send(message, hostname="127.0.0.1", port=port, timeout=5)
        line = await asyncio.to_thread(proc.stdout.readline)
        assert line.strip() == f"mail: referrals@contoso.example | {message['Subject']}"
        assert len(list(folder.glob("*.eml"))) == 1
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()  # leave nothing running, then fail
            raise
    assert proc.returncode == 0


def _connections(*sinks: MailSink) -> int:
    return len({r.peer for sink in sinks for r in sink.received})


async def test_a_pool_keeps_the_connection_for_the_next_session(tmp_path: Path) -> None:
    async with MailSink(port=0, directory=tmp_path) as sink:
        settings = _settings(sink.port)
        pool = MailPool()
        for _ in range(3):
            async with MailSession(settings, pool) as session:
                await session.send(_message(settings))
        await sink.wait_for(3)
        assert _connections(sink) == 1
        await pool.close()
        async with MailSession(settings, pool) as session:  # closed: a new connection
            await session.send(_message(settings))
        await sink.wait_for(4)
        assert _connections(sink) == 2
        await pool.close()


async def test_a_kept_connection_the_server_gave_up_is_replaced(sink: MailSink) -> None:
    """The server closes a kept connection (421 at MAIL FROM, as on a timeout or a restart):
    the message goes out once, over a new connection."""
    settings = _settings(sink.port)
    pool = MailPool()
    async with MailSession(settings, pool) as session:
        await session.send(_message(settings))
    sink.fail_next(1, MailSink.CLOSING, ("MAIL",))
    async with MailSession(settings, pool) as session:
        await session.send(_message(settings))
    assert len(await sink.wait_for(2)) == 2
    assert _connections(sink) == 2
    await pool.close()


async def test_a_new_connection_giving_up_is_a_temporary_failure(sink: MailSink) -> None:
    settings = _settings(sink.port)
    sink.fail_next(1, MailSink.CLOSING, ("MAIL",))
    with pytest.raises(TemporaryMailError, match="421"):
        async with MailSession(settings, MailPool()) as session:
            await session.send(_message(settings))


async def test_kept_connections_expire(tmp_path: Path) -> None:
    async with MailSink(port=0, directory=tmp_path) as sink:
        settings = _settings(sink.port)
        pool = MailPool(idle=0.05)
        async with MailSession(settings, pool) as session:
            await session.send(_message(settings))
        await asyncio.sleep(0.1)
        async with MailSession(settings, pool) as session:
            await session.send(_message(settings))
        await sink.wait_for(2)
        assert _connections(sink) == 2
        await pool.close()


async def test_a_failure_after_mail_from_is_not_retried_on_a_kept_connection(
    tmp_path: Path,
) -> None:
    async with MailSink(port=0, directory=tmp_path) as sink:
        settings = _settings(sink.port)
        pool = MailPool()
        async with MailSession(settings, pool) as session:
            await session.send(_message(settings))
        sink.fail_next(3, MailSink.TEMPORARY, ("DATA",))
        with pytest.raises(TemporaryMailError):
            async with MailSession(settings, pool) as session:
                await session.send(_message(settings))
        assert len(sink.messages) == 1 and _connections(sink) == 1
        await pool.close()
