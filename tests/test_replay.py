"""Saved histories (one per lifecycle path) must replay against the current workflow code.

A change that alters the commands a workflow issues for an existing history fails here;
guard such changes with `workflow.patched("<change-id>")` (see README, "Versioning").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from workflows.referral import ReferralWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_every_lifecycle_path_has_a_saved_history() -> None:
    names = {p.name.split(".")[0] for p in HISTORIES}
    assert {"accept_complete", "decline_reassign", "expiry", "split", "escalation"} <= names


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_saved_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await Replayer(workflows=[ReferralWorkflow]).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
