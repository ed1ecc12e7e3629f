"""The benchmarks' SMTP peer: an aiosmtpd sink in its own process that reports every arrival.

    python -m bench.sink            # prints "port <n>", then "<monotonic> <Message-ID> <to,...>"

A real deployment's mail server is not in the worker's process, so the benchmark's should not
be either: it would compete with the worker for the GIL.
The parent (`SinkProcess`) reads the lines and lets the benchmark await a Message-ID prefix;
arrival times are `time.monotonic()`, one clock for every process on the machine. Its CPU
is reported separately (`cpu_seconds(sink.pid)`). It runs on uvloop, as the worker does, and
reads the two headers it reports from the raw header block instead of parsing the message
with `email`: a mail server's cost is not what the benchmark measures, and the sink's CPU is
taken from the worker and the dev server on the same machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass
from email.utils import getaddresses

import uvloop
from aiosmtpd.smtp import DATA_SIZE_DEFAULT, MISSING, SMTP, Envelope, syntax

from runtime.smtp_sink import MailSink


@dataclass
class Arrival:
    message_id: str
    to: list[str]
    at: float  # time.monotonic()


def reported_headers(raw: bytes) -> tuple[str, list[str]]:
    """The Message-ID and the To addresses of a raw message (its header block unfolded)."""
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    head = head.replace(b"\n ", b" ").replace(b"\n\t", b" ")
    message_id, to = "", []
    for line in head.decode("utf-8", "replace").split("\n"):
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "message-id" and not message_id:
            message_id = value.strip()
        elif name == "to":
            to.append(value.strip())
    return message_id, [address for _, address in getaddresses(to)]


FINAL_LINE = b".\r\n"  # a lone dot after a line end (or first) ends the data


def unstuffed(data: bytes) -> bytes:
    """The message of a DATA transfer read up to and including its final `.` line (RFC 5321
    4.5.2: the leading dot of every line that starts with one removed)."""
    lines = b"\r\n" + data.removesuffix(FINAL_LINE)  # each line now follows a line end
    return lines.replace(b"\r\n..", b"\r\n.")[2:]


class _BulkDataSMTP(SMTP):
    """aiosmtpd's SMTP, reading DATA in a few large pieces instead of a line at a time.

    aiosmtpd awaits every line of a message, most of the sink's CPU; here a read ends only
    at a line ending in `.`, the
    candidates for the end of the data. Same replies and checks as aiosmtpd's `smtp_DATA`,
    but no per-line length limit and no size limit: it receives the product's own mail."""

    # the reader's limit: a piece between two lines ending in "." must fit
    line_length_limit = DATA_SIZE_DEFAULT

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        data = bytearray()
        while not (data == FINAL_LINE or data.endswith(b"\r\n" + FINAL_LINE)):
            data += await self._reader.readuntil(FINAL_LINE)
        self.envelope.original_content = self.envelope.content = unstuffed(bytes(data))
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)


class _ReportingSink(MailSink):
    """Child side: reads only the headers it reports, keeps nothing."""

    smtp_class = _BulkDataSMTP

    def __init__(self) -> None:
        super().__init__(directory=None, echo=False)

    def _store(self, envelope: Envelope, peer: str = "") -> None:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        mid, to = reported_headers(raw)
        sys.stdout.write(f"{time.monotonic():.6f} {mid} {','.join(to)}\n")
        sys.stdout.flush()


async def _serve() -> None:
    sink = _ReportingSink()
    await sink.start("127.0.0.1", 0)
    print(f"port {sink.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sink.stop()


class SinkProcess:
    """Parent side: starts the child, records arrivals, awaits Message-ID prefixes such as
    `<FT-1.1.notification@`, and counts every Message-ID (duplicates)."""

    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self.count_by_id: Counter[str] = Counter()
        self.port = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiters: dict[str, asyncio.Future[Arrival]] = {}
        self._seen: dict[str, Arrival] = {}

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.sink", stdout=asyncio.subprocess.PIPE
        )
        assert self._proc.stdout is not None
        first = (await asyncio.wait_for(self._proc.stdout.readline(), 30)).decode()
        if not first.startswith("port "):
            raise RuntimeError(f"bench sink did not start: {first!r}")
        self.port = int(first.split()[1])
        self._reader = asyncio.create_task(self._read(self._proc.stdout))

    async def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._proc.wait(), 10)
            if self._proc.returncode is None:
                self._proc.kill()
                await self._proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            at, mid, to = [*line.decode().rstrip("\n").split(" ", 2), "", ""][:3]
            self._record(Arrival(mid, [a for a in to.split(",") if a], float(at)))

    def _record(self, arrival: Arrival) -> None:
        self.arrivals.append(arrival)
        self.count_by_id[arrival.message_id] += 1
        key = arrival.message_id.split("@", 1)[0] + "@"
        self._seen.setdefault(key, arrival)
        waiter = self._waiters.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(arrival)

    async def wait_id(self, prefix: str, timeout: float = 300.0) -> Arrival:
        """The first message whose Message-ID starts with `prefix` (which ends with '@')."""
        if prefix in self._seen:
            return self._seen[prefix]
        future = self._waiters.get(prefix)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiters[prefix] = future
        return await asyncio.wait_for(asyncio.shield(future), timeout)

    def duplicates(self) -> dict[str, int]:
        return {mid: n for mid, n in self.count_by_id.items() if n > 1}

    def forget(self) -> None:
        """Drop what is kept (between rounds) but keep the duplicate counter."""
        self.arrivals.clear()
        self._seen.clear()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_serve())
