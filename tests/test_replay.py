"""Saved histories (one per lifecycle path) replay against the current workflow code, with
the worker's own workflow runner and data converter.

A change that alters the commands a workflow issues for a recorded history fails here. Until
the first release the histories are re-recorded (`python -m tests.histories.record`); from
then on such a change is guarded with `workflow.patched` (docs/versioning.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from runtime.codec import converter_for
from settings import Settings
from worker import WORKFLOW_RUNNER, WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
PATHS = {
    "accept_complete",
    "decline_reassign",
    "expiry",
    "split",
    "escalate_retry",
    "cancel",
    "contact_overdue",
    "decline_after_accept",
    "weekly_report",
    "pause_sweep",
}


def test_every_lifecycle_path_has_a_saved_history() -> None:
    assert {p.name.split(".")[0] for p in HISTORIES} >= PATHS


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_saved_history_replays_with_the_workers_runner_and_converter(
    path: Path, tmp_path: Path
) -> None:
    replayer = Replayer(
        workflows=list(WORKFLOWS),
        workflow_runner=WORKFLOW_RUNNER,
        data_converter=converter_for(Settings(payload_key_file=tmp_path / "keys.json")),
    )
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
