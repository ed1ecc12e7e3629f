"""The log output of the worker and the portal: LOG_LEVEL and LOG_FORMAT (`text`, one readable
line per record, or `json`, one object per line for a log collector), on stderr."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# Attributes every LogRecord has; anything else on a record was passed as `extra` (the SDK
# adds `temporal_workflow` / `temporal_activity` that way) and is written as its own field.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the
    exception when there is one, and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(
    settings: Settings, default_level: str, stream: TextIO | None = None
) -> logging.Handler:
    """Route every logger (also uvicorn's and the SDK's) to one handler on `stream` (stderr),
    at LOG_LEVEL or the process's `default_level`, in LOG_FORMAT; returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level or default_level)
    return handler


def core_logging(settings: Settings) -> LoggingConfig | None:
    """With LOG_FORMAT=json the SDK core's own warnings go through Python's logging too
    (logger `temporalio.core`), so that every line is JSON; with text they keep the core's
    default (None)."""
    if settings.log_format != "json":
        return None
    return LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
    )


def forward_core_logs(settings: Settings) -> None:
    """For a process on the SDK's default runtime (the portal): with LOG_FORMAT=json, make the
    default runtime one that forwards the core's logs (`core_logging`). Call before connecting."""
    forwarding = core_logging(settings)
    if forwarding is not None:
        Runtime.set_default(Runtime(telemetry=TelemetryConfig(logging=forwarding)))
