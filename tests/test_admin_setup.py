"""Namespace setup on a REAL dev server that starts without the project's search attributes:
the worker refuses to start naming the missing ones, `starter.py admin setup` registers them
(several at once too), and the README's manual command is the one the code prints."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from runtime.temporal import (
    SERVER_STARTUP,
    find_binary,
    missing_search_attributes,
    register_search_attributes,
    search_attribute_command,
)
from tests.conftest import free_port
from workflows import search_attributes as sa

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent


@pytest_asyncio.fixture
async def bare_server() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server in memory, with only Temporal's own search attributes."""
    env = await WorkflowEnvironment.start_local(
        port=free_port(),
        dev_server_existing_path=find_binary("temporal"),
        dev_server_log_level="error",
        dev_server_startup_timeout=SERVER_STARTUP,
    )
    try:
        yield env
    finally:
        await env.shutdown()


def _address(client: Client) -> str:
    return str(client.service_client.config.target_host)


def _env(tmp_path: Path, client: Client) -> dict[str, str]:
    return {
        **os.environ,
        "FASTTRACK_ENV": "demo",
        "TEMPORAL_ADDRESS": _address(client),
        "TEMPORAL_TASK_QUEUE": f"setup-{tmp_path.name}",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'fasttrack.db'}",
        "PAYLOAD_KEY_FILE": str(tmp_path / "keys.json"),
        "METRICS_PORT": "off",
    }


async def _run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_the_worker_stops_at_start_naming_the_missing_search_attributes(
    bare_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    code, out, err = await _run(_env(tmp_path, bare_server.client), "worker.py")
    assert code == 2, (out, err)
    assert err.startswith("worker: search attribute ReferralStatus (Keyword), ")
    assert "ContactOverdue (Bool)" in err and "starter.py admin setup" in err
    assert err.count("\n") == 1 and "Traceback" not in err and "polling" not in out


async def test_admin_setup_run_several_times_at_once_registers_every_attribute(
    bare_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    client = bare_server.client
    assert len(await missing_search_attributes(client, "default")) == len(sa.ALL)
    env = _env(tmp_path, client)
    results = await asyncio.gather(*(_run(env, "starter.py", "admin", "setup") for _ in range(4)))
    for code, out, err in results:
        assert code == 0, err
        assert out.startswith("namespace 'default': ") and not err
    assert await missing_search_attributes(client, "default") == []
    code, out, _ = await _run(env, "starter.py", "admin", "setup", "--json")
    assert code == 0 and '"added": []' in out


async def test_concurrent_registration_in_one_process_tolerates_already_exists(
    bare_server: WorkflowEnvironment,
) -> None:
    client = bare_server.client
    added = await asyncio.gather(*(register_search_attributes(client, "default") for _ in range(5)))
    assert {name for names in added for name in names} == {k.name for k in sa.ALL}
    assert await missing_search_attributes(client, "default") == []


def test_the_manual_command_prints_and_matches_the_readme() -> None:
    command = search_attribute_command("default")
    assert all(f"--name {key.name} " in command for key in sa.ALL)
    env = {**os.environ, "FASTTRACK_ENV": "demo"}
    result = subprocess.run(
        [sys.executable, "starter.py", "admin", "setup", "--print-command"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stdout == command + "\n"
    assert command in (ROOT / "README.md").read_text(encoding="utf-8")
