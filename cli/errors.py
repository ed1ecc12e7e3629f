"""Exit codes and the mapping from any exception to one line for the operator."""

from __future__ import annotations

from sqlalchemy.exc import InterfaceError, OperationalError
from temporalio.client import (
    RPCTimeoutOrCancelledError,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from db.engine import DatabaseUnavailable, DatabaseUrlInvalid
from domain.policy import Code
from domain.validation import ValidationError
from runtime.temporal import TemporalUnavailable
from settings import SettingsError

OK = 0
REFUSED = 1
BAD_INPUT = 2
NOT_FOUND = 3
UNAVAILABLE = 4
INTERNAL = 5

EPILOG = """\
exit codes:
  0  ok
  1  action refused by policy or by the referral's state (stderr: "refused: <answer>")
  2  bad input or usage (malformed JSON, unknown code, bad date or number, ...)
  3  not found (unknown referral or partner)
  4  service unavailable (Temporal, the worker or the database cannot be reached)
  5  unexpected internal error (a bug: please report the one-line message)
every error is one line on stderr; --json output goes to stdout.
"""

# Refusal codes that mean the request itself was malformed rather than refused.
_BAD_INPUT_CODES = frozenset(
    {Code.UNKNOWN_REASON, Code.UNKNOWN_ACTION, Code.INVALID_VALUE, Code.NOTE_REQUIRED}
)
_UNAVAILABLE_RPC = frozenset(
    {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED}
)


class CliError(Exception):
    """An error already phrased for the operator, with its exit code."""

    def __init__(self, code: int, message: str, prefix: str = "error") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.prefix = prefix

    def line(self) -> str:
        return f"{self.prefix}: {one_line(self.message)}"


def refused(message: str) -> CliError:
    return CliError(REFUSED, message, prefix="refused")


def bad_input(message: str) -> CliError:
    return CliError(BAD_INPUT, message)


def not_found(message: str) -> CliError:
    return CliError(NOT_FOUND, message)


def unavailable(message: str) -> CliError:
    return CliError(UNAVAILABLE, message)


def one_line(text: str, limit: int = 500) -> str:
    """The first non-empty line of `text`, shortened to `limit` characters."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    return first if len(first) <= limit else first[: limit - 3] + "..."


def from_update_failure(err: WorkflowUpdateFailedError) -> CliError:
    cause = err.cause
    if isinstance(cause, ApplicationError):
        if cause.type in _BAD_INPUT_CODES:
            return bad_input(cause.message)
        return refused(cause.message)
    return refused(one_line(str(cause)) or "the action was not applied")


def classify(err: BaseException) -> CliError:
    """Any exception as a `CliError` (exit code + one line)."""
    if isinstance(err, CliError):
        return err
    if isinstance(err, ValidationError | SettingsError):
        return bad_input(str(err))
    if isinstance(err, DatabaseUrlInvalid):
        return bad_input(f"DATABASE_URL: {err}")
    if isinstance(err, TemporalUnavailable | DatabaseUnavailable):
        return unavailable(str(err))
    if isinstance(err, WorkflowUpdateFailedError):
        return from_update_failure(err)
    if isinstance(err, RPCTimeoutOrCancelledError | TimeoutError):
        return unavailable("no answer in time: is Temporal up and `python worker.py` running?")
    if isinstance(err, WorkflowQueryRejectedError | WorkflowQueryFailedError):
        return unavailable(f"the referral's workflow could not answer: {one_line(str(err))}")
    if isinstance(err, RPCError):
        if err.status == RPCStatusCode.NOT_FOUND and err.message.startswith("Namespace "):
            return bad_input(f"TEMPORAL_NAMESPACE: {one_line(err.message)}")  # a setting
        if err.status == RPCStatusCode.NOT_FOUND:
            return not_found(one_line(err.message) or "not found")
        if err.status in _UNAVAILABLE_RPC:
            return unavailable(f"Temporal is unavailable: {one_line(err.message)}")
        if err.status == RPCStatusCode.INVALID_ARGUMENT:
            return bad_input(f"Temporal rejected the request: {one_line(err.message)}")
        return CliError(INTERNAL, f"Temporal error ({err.status.name}): {one_line(err.message)}")
    if isinstance(err, OperationalError | InterfaceError):
        return unavailable(f"database error: {one_line(str(err.orig or err))}")
    if isinstance(err, FileNotFoundError):
        return bad_input(f"no such file: {err.filename}")
    if isinstance(err, IsADirectoryError | PermissionError):
        return bad_input(f"cannot read {err.filename}: {err.strerror}")
    if isinstance(err, ConnectionError | OSError):
        return unavailable(f"{type(err).__name__}: {one_line(str(err))}")
    text = one_line(str(err))
    return CliError(INTERNAL, f"{type(err).__name__}: {text}" if text else type(err).__name__)
