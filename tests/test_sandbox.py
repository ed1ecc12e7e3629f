"""The worker's workflow runner (`worker.WORKFLOW_RUNNER`, the SDK's sandbox with the pure
modules passed through): workflows run and pass payloads, and a non-deterministic call in
workflow code fails the workflow task (retried until the code is fixed)."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import workflows

with workflow.unsafe.imports_passed_through():
    from domain.business_days import add_business_days
    from worker import PASSED_THROUGH, WORKFLOW_RUNNER, WORKFLOWS


@activity.defn(name="sandbox_echo")
async def echo(text: str) -> str:
    return text.upper()


@workflow.defn(name="SandboxEcho")
class EchoWorkflow:
    @workflow.run
    async def run(self, text: str) -> str:
        return await workflow.execute_activity(
            echo, text, start_to_close_timeout=timedelta(seconds=10)
        )


@workflow.defn(name="SandboxClock")
class ClockWorkflow:
    @workflow.run
    async def run(self) -> str:
        return datetime.now().isoformat()  # not allowed in workflow code


@workflow.defn(name="SandboxDice")
class DiceWorkflow:
    @workflow.run
    async def run(self) -> float:
        return random.random()  # not allowed: workflow.random() is the deterministic one


@workflow.defn(name="SandboxBusinessDays")
class BusinessDaysWorkflow:
    @workflow.run
    async def run(self) -> str:
        return add_business_days(workflow.now(), 2, "DE", "Europe/Berlin").isoformat()


async def _execute(env: WorkflowEnvironment, cls: type, run: Callable, *args: object) -> object:
    queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[cls],
        activities=[echo],
        workflow_runner=WORKFLOW_RUNNER,
    ):
        return await env.client.execute_workflow(
            run, *args, id=f"sb-{uuid.uuid4().hex}", task_queue=queue
        )


async def test_workflows_run_and_payloads_pass(temporal_env: WorkflowEnvironment) -> None:
    assert await _execute(temporal_env, EchoWorkflow, EchoWorkflow.run, "payload") == "PAYLOAD"


async def test_a_passed_through_domain_module_works_in_workflow_code(
    temporal_env: WorkflowEnvironment,
) -> None:
    result = await _execute(temporal_env, BusinessDaysWorkflow, BusinessDaysWorkflow.run)
    assert isinstance(result, str) and result


@pytest.mark.parametrize(
    ("cls", "call"),
    [(ClockWorkflow, "datetime.datetime.now"), (DiceWorkflow, "random.random")],
    ids=["clock", "randomness"],
)
async def test_a_non_deterministic_call_in_workflow_code_fails_the_workflow_task(
    temporal_env: WorkflowEnvironment, cls: type, call: str
) -> None:
    """As the worker runs it (no failure types): the task fails, is retried, and the
    workflow waits for a fix instead of recording a non-deterministic result."""
    queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    async with Worker(
        temporal_env.client, task_queue=queue, workflows=[cls], workflow_runner=WORKFLOW_RUNNER
    ):
        handle = await temporal_env.client.start_workflow(
            cls.run,  # type: ignore[attr-defined]
            id=f"sb-{uuid.uuid4().hex}",
            task_queue=queue,
        )
        try:
            async with asyncio.timeout(20):
                while not (failure := await _task_failure(handle)):
                    await asyncio.sleep(0.1)
        finally:
            await handle.terminate("test over")
    assert "RestrictedWorkflowAccessError" in failure and call in failure


async def _task_failure(handle: WorkflowHandle) -> str:
    """The failure message of the workflow's first failed workflow task, or ""."""
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            failure = event.workflow_task_failed_event_attributes.failure
            return f"{failure.application_failure_info.type}: {failure.message}"
    return ""


def test_the_workflow_modules_themselves_are_not_passed_through() -> None:
    """Passing a workflow's module through would skip its re-import into the sandbox, and
    with it the restricted `datetime`, `random`… its own code calls."""
    passed = WORKFLOW_RUNNER.restrictions.passthrough_modules
    assert set(PASSED_THROUGH) <= passed
    for cls in WORKFLOWS:
        parts = cls.__module__.split(".")
        prefixes = {".".join(parts[:n]) for n in range(1, len(parts) + 1)}
        assert not prefixes & passed, cls.__module__
    assert not WORKFLOW_RUNNER.restrictions.passthrough_all_modules


def test_every_module_with_workflow_code_is_re_imported_into_the_sandbox() -> None:
    """A module that calls `temporalio.workflow` (handlers, timers, activities, metrics) is
    not passed through, so the sandbox guards its calls too."""
    passed = WORKFLOW_RUNNER.restrictions.passthrough_modules
    for info in pkgutil.iter_modules(workflows.__path__, "workflows."):
        module = importlib.import_module(info.name)
        if any(value is workflow for value in vars(module).values()):
            parts = info.name.split(".")
            prefixes = {".".join(parts[:n]) for n in range(1, len(parts) + 1)}
            assert not prefixes & passed, info.name


def test_the_passed_through_workflows_modules_hold_no_workflow_code() -> None:
    """Only constants and keys: `workflows.search_attributes`, `workflows.activity_options`."""
    for name in PASSED_THROUGH:
        if name.startswith("workflows."):
            module = importlib.import_module(name)
            assert not any(value is workflow for value in vars(module).values()), name
