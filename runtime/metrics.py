"""The worker's Prometheus endpoint, and the counters emitted from activities.

`METRICS_PORT` (default 9464) chooses where the worker serves `GET /metrics`; `0` or `off`
disables it. The endpoint is the Temporal SDK runtime's own Prometheus exporter, so one scrape
shows the SDK's `temporal_*` metrics (task slots, latencies, failures, sticky cache, ...) and
the project's `fasttrack_*` counters: those from workflow code (workflows/metrics.py) and
those from activities (activities/metrics.py), all labelled with namespace and task queue.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from temporalio.runtime import LoggingConfig, PrometheusConfig, Runtime, TelemetryConfig

from domain.validation import whole_number

DEFAULT_PORT = 9464
DEFAULT_HOST = "0.0.0.0"
_DISABLED = ("0", "off", "false", "no", "none", "disabled")


class MetricsUnavailable(RuntimeError):
    """METRICS_PORT is malformed or the endpoint cannot be served (one line, for the user)."""


def metrics_address(environ: Mapping[str, str] | None = None) -> str | None:
    """`host:port` to serve metrics on, or None when disabled (METRICS_PORT, see above)."""
    env = os.environ if environ is None else environ
    raw = (env.get("METRICS_PORT") or "").strip().lower()
    if raw in _DISABLED:
        return None
    if not raw:
        return f"{DEFAULT_HOST}:{DEFAULT_PORT}"
    port = whole_number(raw, 65535)
    if not port:
        raise MetricsUnavailable(
            f"METRICS_PORT must be a port number (1-65535), 0 or off, got {raw!r}"
        )
    return f"{DEFAULT_HOST}:{port}"


def prometheus_runtime(bind_address: str, logging: LoggingConfig | None = None) -> Runtime:
    """A Temporal runtime whose metrics are served for Prometheus on `bind_address`; the SDK
    core's logs as `logging` says (default: its own lines on stderr)."""
    telemetry = TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address))
    if logging is not None:
        telemetry = TelemetryConfig(logging=logging, metrics=telemetry.metrics)
    try:
        return Runtime(telemetry=telemetry)
    except Exception as err:  # the core reports a taken port as a plain RuntimeError/ValueError
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise MetricsUnavailable(f"cannot serve metrics on {bind_address}: {first}") from None


def runtime_from_env(
    environ: Mapping[str, str] | None = None, logging: LoggingConfig | None = None
) -> tuple[Runtime | None, str]:
    """(runtime, address) for the worker; address "" when METRICS_PORT disables metrics, and
    runtime None when, besides, the core's logs keep their default."""
    address = metrics_address(environ)
    if address is None:
        return (None if logging is None else Runtime(telemetry=TelemetryConfig(logging))), ""
    return prometheus_runtime(address, logging), address
