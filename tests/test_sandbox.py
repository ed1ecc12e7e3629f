"""The worker's workflow sandbox (`runtime.sandbox`): the SDK's, with its steps compiled once
and the per-payload context questions asked directly. Still a sandbox: it refuses
non-deterministic calls, in the referral workflow's own module too; and it answers the
context questions as the SDK's path does."""

from __future__ import annotations

import sys
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import CommandType
from temporalio.api.failure.v1 import Failure
from temporalio.client import WorkflowFailureError
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker, WorkflowInstanceDetails
from temporalio.worker._command_aware_visitor import CommandInfo
from temporalio.worker.workflow_sandbox._runner import _fake_info, _Instance

import domain.models
import workflows.metrics
import workflows.search_attributes
from runtime.sandbox import PASSED_THROUGH, WORKFLOW_RUNNER, compiled, remember_code
from workflows.referral import ReferralWorkflow


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


async def test_workflows_run_and_payloads_pass(temporal_env: WorkflowEnvironment) -> None:
    queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    async with Worker(
        temporal_env.client,
        task_queue=queue,
        workflows=[EchoWorkflow],
        activities=[echo],
        workflow_runner=WORKFLOW_RUNNER,
    ):
        result = await temporal_env.client.execute_workflow(
            EchoWorkflow.run, "payload", id=f"sb-{uuid.uuid4().hex}", task_queue=queue
        )
    assert result == "PAYLOAD"


async def test_non_deterministic_calls_are_still_refused(
    temporal_env: WorkflowEnvironment,
) -> None:
    queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    async with Worker(
        temporal_env.client,
        task_queue=queue,
        workflows=[ClockWorkflow],
        workflow_runner=WORKFLOW_RUNNER,
        workflow_failure_exception_types=[Exception],
    ):
        with pytest.raises(WorkflowFailureError) as err:
            await temporal_env.client.execute_workflow(
                ClockWorkflow.run, id=f"sb-{uuid.uuid4().hex}", task_queue=queue
            )
    assert "datetime.datetime.now" in str(err.value.cause)


def details(cls: type) -> WorkflowInstanceDetails:
    return WorkflowInstanceDetails(
        payload_converter_factory=DataConverter.default._new_payload_converter,
        failure_converter_class=DataConverter.default.failure_converter_class,
        interceptor_classes=[],
        defn=workflow._Definition.must_from_class(cls),
        info=_fake_info,
        randomness_seed=1,
        extern_functions={},
        disable_eager_activity_execution=False,
        worker_level_failure_exception_types=[],
        patch_activation_callback=None,
        last_completion_result=Payloads(),
        last_failure=Failure(),
    )


async def test_the_referral_workflow_module_sees_restricted_modules() -> None:
    """The workflow module is re-imported in the sandbox: its `datetime` is the restricted
    proxy, not the module the worker imported."""
    instance = WORKFLOW_RUNNER.create_instance(details(ReferralWorkflow))
    assert isinstance(instance, _Instance)
    cls: Any = instance.globals_and_locals["__temporal_workflow_class"]
    assert cls is not ReferralWorkflow
    assert type(cls.run.__globals__["datetime"]).__name__ == "_RestrictedProxy"


async def test_the_workflow_helper_modules_are_passed_through() -> None:
    """`workflows.metrics` and `workflows.search_attributes` are not re-imported per
    workflow (the domain models are not either); the workflow module itself still is."""
    instance = WORKFLOW_RUNNER.create_instance(details(ReferralWorkflow))
    assert isinstance(instance, _Instance)
    cls: Any = instance.globals_and_locals["__temporal_workflow_class"]
    names: dict[str, Any] = cls.run.__globals__
    assert names["metrics"] is workflows.metrics
    assert names["sa"] is workflows.search_attributes
    assert names["Referral"] is domain.models.Referral
    assert names["ReferralWorkflow"] is not ReferralWorkflow
    assert {m.rsplit(".", 1)[-1] for m in PASSED_THROUGH} == {"metrics", "search_attributes"}


async def test_the_workflow_module_is_executed_anew_from_one_code_object() -> None:
    """`remember_code`: every workflow gets its own module, class and restricted proxies,
    made from the one code object of the module's source."""
    remember_code([ReferralWorkflow.__module__])
    classes: list[Any] = []
    for _ in range(2):
        instance = WORKFLOW_RUNNER.create_instance(details(ReferralWorkflow))
        assert isinstance(instance, _Instance)
        classes.append(instance.globals_and_locals["__temporal_workflow_class"])
    first, second = classes
    assert first is not second and first is not ReferralWorkflow
    assert first.run.__globals__ is not second.run.__globals__
    assert type(second.run.__globals__["datetime"]).__name__ == "_RestrictedProxy"
    assert first.run.__code__ is second.run.__code__  # one code object
    assert second.__module__ == ReferralWorkflow.__module__
    assert second.run.__globals__["__file__"] == sys.modules[ReferralWorkflow.__module__].__file__


async def test_context_answers_match_the_sdks() -> None:
    instance = WORKFLOW_RUNNER.create_instance(details(EchoWorkflow))
    assert isinstance(instance, _Instance)
    commands = [
        None,
        CommandInfo(CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK, 1),
        CommandInfo(CommandType.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION, 2),
    ]
    for command in commands:
        assert instance.get_serialization_context(command) == _Instance.get_serialization_context(
            instance, command
        )
        assert instance.get_external_store_context(command) == _Instance.get_external_store_context(
            instance, command
        )
    assert compiled.cache_info().currsize >= 2  # the instance's steps, compiled once
