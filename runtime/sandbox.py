"""The workflow sandbox the worker runs workflows in: the SDK's, with its code compiled once.

The SDK's sandbox runs each step inside the sandbox (create the instance, each activation,
and the serialization context of every payload sequence it encodes or decodes: four per
payload) by `exec` of a short source string, which Python compiles on every call. In the
pipeline benchmark that compiling was 7.5 % of the worker's GIL time (bench/README.md). The
strings are few and fixed, so each is compiled once and the code object executed: the same
code, in the same globals, under the same restrictions.

Every module is passed through instead of re-imported per workflow (15-20 % of the worker's
CPU before): the workflow modules keep no module-level state, and the sandbox still refuses
non-deterministic calls (time, randomness, I/O) at run time; the replay tests prove
determinism.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import CodeType
from typing import Any, cast

from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.worker.workflow_sandbox._runner import _Instance


@functools.lru_cache(maxsize=256)
def compiled(code: str) -> CodeType:
    return compile(code, "<workflow sandbox>", "exec")


class _CompiledInstance(_Instance):
    def _run_code(self, code: str, **extra_globals: Any) -> None:
        super()._run_code(cast(str, compiled(code)), **extra_globals)  # exec takes code too


@dataclass(frozen=True)
class CompiledSandboxRunner(SandboxedWorkflowRunner):
    """`SandboxedWorkflowRunner` whose instances execute their fixed steps precompiled."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _CompiledInstance(det, self.runner_class, self.restrictions)


WORKFLOW_RUNNER = CompiledSandboxRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_all_modules()
)
