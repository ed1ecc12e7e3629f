"""Intake idempotency outlives Temporal's retention: a referral id the read model has seen is
"already exists", even when Temporal no longer holds its workflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import asdict
from pathlib import Path

import pytest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from db.engine import open_database
from db.readmodel import ReferralReadModel
from domain.models import Status
from domain.validation import referral_to_json
from tests.dbfixtures import event, snapshot

ROOT = Path(__file__).resolve().parent.parent


def _create(tmp_path: Path, env: WorkflowEnvironment, url: str, rid: str) -> str:
    ref = snapshot(rid).referral
    path = tmp_path / f"{rid}.json"
    path.write_text(json.dumps(referral_to_json(ref)))
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "DATABASE_"))}
    result = subprocess.run(
        [sys.executable, str(ROOT / "starter.py"), "referral", "create", str(path)],
        cwd=ROOT,
        env={
            **environ,
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "TEMPORAL_TASK_QUEUE": f"intake-{uuid.uuid4().hex[:6]}",  # no worker: starts only
            "DATABASE_URL": url,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip() + (
        " (already exists)" if "already exists" in result.stderr else ""
    )


async def _exists(env: WorkflowEnvironment, rid: str) -> bool:
    try:
        await env.client.get_workflow_handle(rid).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def test_a_referral_forgotten_by_temporal_but_in_the_read_model_already_exists(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}"
    engine, sessions = await open_database(url)
    old = f"FT-OLD-{uuid.uuid4().hex[:6].upper()}"
    done = snapshot(old, Status.COMPLETED, history=[event(0, "created"), event(9, "completed")])
    await ReferralReadModel(sessions).sync(done)  # its workflow is gone (retention)
    await engine.dispose()
    assert not await _exists(temporal_env, old)

    assert _create(tmp_path, temporal_env, url, old) == f"{old} (already exists)"
    assert not await _exists(temporal_env, old)

    new = f"FT-NEW-{uuid.uuid4().hex[:6].upper()}"
    assert _create(tmp_path, temporal_env, url, new) == new
    assert await _exists(temporal_env, new)
    await temporal_env.client.get_workflow_handle(new).terminate("test done")


@pytest.mark.parametrize("field", ["referral_id", "workflow_id"])
async def test_known_matches_the_referral_and_its_parts(field: str, tmp_path: Path) -> None:
    engine, sessions = await open_database(f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    part = snapshot("FT-9", workflow_id="FT-9.part1", parent_id="FT-9")
    await ReferralReadModel(sessions).sync(part)
    readmodel = ReferralReadModel(sessions)
    assert await readmodel.known("FT-9") and await readmodel.known(asdict(part.state)[field])
    assert not await readmodel.known("FT-10")
    await engine.dispose()
