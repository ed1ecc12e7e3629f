"""The workflow sandbox the worker runs workflows in: the SDK's, with its steps compiled once.

The sandbox re-imports a workflow's module for every workflow it creates, so that the names
the module imports from `datetime`, `random`, `time`, `os`… are the sandbox's restricted
proxies and a non-deterministic call in workflow code fails its workflow task instead of
breaking replays later (`tests/test_sandbox.py`). What the workflow modules import inside
`workflow.unsafe.imports_passed_through()` (the domain models and rules) is not re-imported.

What that costs is kept down four ways (bench/README.md):

- The workflow modules' code objects are made once per process (`remember_code`): each
  re-import read and unmarshalled the module's bytecode again (0.5 ms of a new workflow's
  2.7 ms), or, under PYTHONDONTWRITEBYTECODE with no bytecode written, compiled the 770-line
  source again (7.5 ms). A code object is immutable; the module is still executed anew, with
  the sandbox's proxies, for every workflow.
- The SDK runs each step inside the sandbox (create the instance, each activation, the
  serialization context of every payload sequence it encodes or decodes: four per payload)
  by `exec` of a short source string, which Python compiled on every call: 7.5 % of the
  worker's GIL time. The strings are few and fixed: each is compiled once.
- The workflow package's helper modules (`PASSED_THROUGH`) are not re-imported.
- The two per-payload questions are pure reads of the instance's state (its info and
  pending commands) that import nothing: they are asked of the in-sandbox instance directly
  instead of through `exec` with the sandbox's importer applied (8 % of the GIL time).

(2026-11-30: passing every module through, as the worker did for a day, skipped the
re-import and with it the restricted proxies: `datetime.now()` in workflow code ran
unchecked. Measured: 0.73x bare with it, 0.70x without.)
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import CodeType
from typing import Any, cast

from temporalio.converter import SerializationContext
from temporalio.converter._extstore import StorageDriverStoreContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker._command_aware_visitor import CommandInfo
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.worker.workflow_sandbox._runner import _Instance


@functools.lru_cache(maxsize=256)
def compiled(code: str) -> CodeType:
    return compile(code, "<workflow sandbox>", "exec")


class _CompiledInstance(_Instance):
    def _run_code(self, code: str, **extra_globals: Any) -> None:
        super()._run_code(cast(str, compiled(code)), **extra_globals)  # exec takes code too

    # The SDK asks for these once per payload sequence it encodes or decodes (four times per
    # payload) and answers through `_run_code` with the sandbox's importer applied. Both are
    # pure reads of the instance's state (its info and pending commands) that import nothing,
    # so they are asked of the in-sandbox instance directly: 8 % of the worker's GIL time.
    def get_serialization_context(
        self, command_info: CommandInfo | None
    ) -> SerializationContext | None:
        return self._in_sandbox.get_serialization_context(command_info)

    def get_external_store_context(
        self, command_info: CommandInfo | None
    ) -> StorageDriverStoreContext:
        return self._in_sandbox.get_external_store_context(command_info)

    @property
    def _in_sandbox(self) -> Any:
        return self.globals_and_locals["__temporal_in_sandbox"]


@dataclass(frozen=True)
class CompiledSandboxRunner(SandboxedWorkflowRunner):
    """`SandboxedWorkflowRunner` whose instances execute their fixed steps precompiled."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _CompiledInstance(det, self.runner_class, self.restrictions)


# Modules of the `workflows` package that hold no workflow, only helpers over
# `temporalio.workflow` (constants and calls, no state of their own): passed through like the
# domain modules. Imported with `from workflows import …` inside the workflow module, they were
# re-imported per workflow despite `imports_passed_through` (the sandbox does not see the
# submodule import of a `from` list), compiling their source included: 0.65 ms of the 3.25 ms
# a new workflow cost (best of 5 × 200 instances, quiet machine).
PASSED_THROUGH = ("workflows.metrics", "workflows.search_attributes")

WORKFLOW_RUNNER = CompiledSandboxRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH)
)


class _RememberedLoader(importlib.machinery.SourceFileLoader):
    """The loader of a workflow module: its code object is made once per process."""

    def get_code(self, fullname: str) -> CodeType:
        code = _CODE.get(self.path)
        if code is None:
            code = _CODE[self.path] = cast(CodeType, super().get_code(fullname))
        return code


_CODE: dict[str, CodeType] = {}  # source path -> code object


class _WorkflowModules(importlib.abc.MetaPathFinder):
    """First on `sys.meta_path`: finds the remembered workflow modules (a new spec per import,
    as the path finder gives) without searching `sys.path` again."""

    def __init__(self) -> None:
        self.origins: dict[str, str] = {}  # module name -> source path

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        origin = self.origins.get(fullname)
        if origin is None:
            return None
        loader = _RememberedLoader(fullname, origin)
        return importlib.util.spec_from_file_location(fullname, origin, loader=loader)


_FINDER = _WorkflowModules()


def remember_code(modules: Sequence[str]) -> None:
    """Serve the workflow modules `modules`, which the sandbox re-imports for every workflow,
    from code objects made once (plain source modules only; others import as before)."""
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            _FINDER.origins.setdefault(name, str(spec.origin))
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
