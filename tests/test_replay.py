"""Saved histories (one per lifecycle path) replay against the current workflow code, with
the worker's own workflow runner and data converter.

A change that alters the commands a workflow issues for a recorded history fails here. Until
the first release the histories are re-recorded (`python -m tests.histories.record`); from
then on such a change is guarded with `workflow.patched` (docs/versioning.md).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from runtime.codec import ENCODING, converter_for
from settings import Settings
from tests.pii import readable_history
from worker import WORKFLOW_RUNNER, WORKFLOWS

HERE = Path(__file__).parent / "histories"
KEY_FILE = HERE / "test-payload-key.json"  # the fixed test key they were recorded with
IDS_FILE = HERE / "workflow-ids.json"  # the workflow id each history was recorded under
HISTORIES = sorted(p for p in HERE.glob("*.json") if p not in (KEY_FILE, IDS_FILE))
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
def test_saved_history_is_encrypted_with_the_test_key(path: Path) -> None:
    payloads = _payloads(json.loads(path.read_text()))
    assert payloads, path.name
    for p in payloads:
        assert base64.b64decode(p["metadata"]["encoding"]) == ENCODING, (path.name, p)
    assert "Fabrikam" not in readable_history(path.read_text())


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_saved_history_replays_with_the_workers_runner_and_converter(path: Path) -> None:
    replayer = Replayer(
        workflows=list(WORKFLOWS),
        workflow_runner=WORKFLOW_RUNNER,
        data_converter=converter_for(Settings(payload_key_file=KEY_FILE)),
        # no 2 s deadlock timer: a cold sandbox on a busy machine can take longer than that
        # for its first activation; what is checked here is the commands, not the speed
        debug_mode=True,
    )
    workflow_id = json.loads(IDS_FILE.read_text())[path.stem]  # part ids derive from it
    history = WorkflowHistory.from_json(workflow_id, path.read_text())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


def _payloads(node: Any, key: str = "") -> list[dict[str, Any]]:
    """Every payload the data converter wrote in a history's JSON (an object with metadata
    and data): not the search attributes, nor the SDK's own local-activity marker data."""
    if isinstance(node, dict):
        own = [node] if "encoding" in node.get("metadata", {}) else []
        return own + [
            p
            for k, v in node.items()
            if k != "searchAttributes" and not (key == "details" and k == "data")
            for p in _payloads(v, k)
        ]
    if isinstance(node, list):
        return [p for v in node for p in _payloads(v, key)]
    return []
