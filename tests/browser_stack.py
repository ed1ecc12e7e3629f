"""The stack the browser tests drive: Temporal dev server, SMTP sink, `python worker.py` and
`python -m portal` as subprocesses on free ports, a SQLite database, and the operator CLI."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx

from runtime.smtp_sink import MailSink
from runtime.temporal import start_dev_server
from settings import Settings
from tests.test_integration_cli import ROOT, _drain, _wait_for_line, free_port

OPERATOR = "operator@ops.example"


def partner(mpn: str, country: str, **changes: Any) -> dict[str, Any]:
    return {
        "mpn_id": mpn,
        "name": f"Partner {mpn}",
        "referral_contact": f"referrals@p{mpn}.example",
        "referral_ready": True,
        "fasttrack_ready": True,
        "benefit_referrals": True,
        "workloads": ["teams", "sharepoint"],
        "languages": ["en"],
        "segments": ["commercial"],
        "min_seats": 100,
        "max_seats": 50000,
        "home_country": country,
        "timezone": "Europe/Berlin",
        "locale": "en",  # these tests read English; their home countries would pick others
        **changes,
    }


def referral(country: str, **changes: Any) -> dict[str, Any]:
    return {
        "referral_id": f"FT-B-{uuid.uuid4().hex[:8]}",
        "type": "benefit",
        "customer": {
            "name": "Fabrikam Browser AG",
            "country": country,
            "language": "en",
            "segment": "commercial",
            "seats": 2400,
            "contact_email": "it@fabrikam-browser.example",
        },
        "workloads": ["teams", "sharepoint"],
        "active_usage": {"teams": 0.2, "sharepoint": 0.05},
        "notes": "Wants a Teams Phone rollout before Q2.",
        "requested_by": {"name": "Avery AE", "email": "ae@microsoft.example", "microsoft": True},
        "account_team": ["ae@microsoft.example"],
        **changes,
    }


@dataclass
class BrowserStack:
    env: dict[str, str]
    sink: MailSink
    tmp: Path
    url: str
    database_url: str

    async def cli(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "starter.py"),
            *args,
            cwd=ROOT,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, (args, err.decode())
        return out.decode()

    async def import_partners(self, *profiles: dict[str, Any]) -> None:
        path = self.tmp / f"partners-{uuid.uuid4().hex[:6]}.json"
        path.write_text(json.dumps(list(profiles)))
        await self.cli("partners", "import", str(path))

    async def create(self, data: dict[str, Any]) -> str:
        path = self.tmp / f"referral-{uuid.uuid4().hex[:6]}.json"
        path.write_text(json.dumps(data))
        await self.cli("referral", "create", str(path))
        return str(data["referral_id"])

    async def show(self, rid: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(await self.cli("referral", "show", rid, "--json"))
        return data

    async def until(
        self, rid: str, check: Callable[[dict[str, Any]], bool], timeout: float = 20
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = await self.show(rid)
            if check(state) or time.monotonic() > deadline:
                assert check(state), state
                return state
            await asyncio.sleep(0.3)

    async def mail(
        self, check: Callable[[EmailMessage], bool], after: int = 0, timeout: float = 20
    ) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in self.sink.messages[after:]:
                if check(msg):
                    return msg
            await asyncio.sleep(0.1)
        seen = [(str(m["To"]), str(m["Subject"])) for m in self.sink.messages]
        raise AssertionError(f"expected email did not arrive; got {seen}")

    def link_in(self, msg: EmailMessage, pattern: str) -> str:
        part = msg.get_body(("plain",))
        assert part is not None
        found = re.search(pattern, str(part.get_content()))
        assert found, part.get_content()
        return found.group(0)


async def browser_stack(tmp: Path) -> AsyncIterator[BrowserStack]:
    address = f"127.0.0.1:{free_port()}"
    server = await start_dev_server(
        Settings(temporal_address=address), state_file=tmp / "t.db", ui_port=free_port()
    )
    sink = MailSink(directory=tmp / "mail", echo=False)
    await sink.start("127.0.0.1", free_port())
    port = free_port()
    database_url = f"sqlite+aiosqlite:///{tmp / 'portal.sqlite'}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("TEMPORAL_", "SMTP_", "SLA_", "DATABASE_", "PORTAL_", "OPERATOR_", "METRICS_")
        )
    }
    env.update(
        TEMPORAL_ADDRESS=address,
        TEMPORAL_TASK_QUEUE=f"browser-{uuid.uuid4().hex[:8]}",
        DATABASE_URL=database_url,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(sink.port),
        PORTAL_HOST="127.0.0.1",
        PORTAL_PORT=str(port),
        PORTAL_URL=f"http://127.0.0.1:{port}",
        OPERATOR_EMAILS=OPERATOR,
        METRICS_PORT=str(free_port()),
        PYTHONUNBUFFERED="1",
    )
    procs: list[asyncio.subprocess.Process] = []
    drains: list[asyncio.Task[None]] = []
    try:
        for args, ready in [(["worker.py"], "worker polling"), (["-m", "portal"], "")]:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *args,
                cwd=ROOT,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            procs.append(proc)
            assert proc.stdout is not None
            if ready:
                await _wait_for_line(proc.stdout, ready, timeout=30)
            drains.append(asyncio.create_task(_drain(proc.stdout)))
        url = f"http://127.0.0.1:{port}"
        await _wait_for_http(f"{url}/healthz")
        yield BrowserStack(env, sink, tmp, url, database_url)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
        for task in drains:
            task.cancel()
        await sink.stop()
        await server.shutdown()


async def _wait_for_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} did not answer")
            await asyncio.sleep(0.2)
