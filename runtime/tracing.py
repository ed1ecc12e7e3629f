"""OpenTelemetry tracing through the SDK's TracingInterceptor, on when an OTLP endpoint is set.

With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, every client
and worker carries the interceptor, so one trace runs from a client's start through the
workflow to each of its activities; spans go over OTLP/HTTP in batches.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import opentelemetry.trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from temporalio.contrib.opentelemetry import TracingInterceptor

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
DEFAULT_SERVICE = "fasttrack-referrals"
TRACER_NAME = "fasttrack"

_installed: TracingInterceptor | None = None


def tracing_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether an OTLP endpoint is configured."""
    env = os.environ if environ is None else environ
    return any((env.get(name) or "").strip() for name in ENDPOINT_VARIABLES)


def interceptors(environ: Mapping[str, str] | None = None) -> list[TracingInterceptor]:
    """The interceptors a client (and the workers built on it) should carry: one tracing
    interceptor exporting over OTLP when an endpoint is configured, else none."""
    global _installed
    if not tracing_enabled(environ):
        return []
    if _installed is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        _installed = install(BatchSpanProcessor(OTLPSpanExporter()), environ)
    return [_installed]


def install(
    processor: SpanProcessor, environ: Mapping[str, str] | None = None
) -> TracingInterceptor:
    """A tracer provider sending finished spans to `processor`, and an interceptor using it.

    The provider is also made the process's global one (once: OpenTelemetry refuses to
    replace it), so library instrumentation joins the same traces."""
    env = os.environ if environ is None else environ
    service = (env.get("OTEL_SERVICE_NAME") or "").strip() or DEFAULT_SERVICE
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(processor)
    opentelemetry.trace.set_tracer_provider(provider)
    return TracingInterceptor(provider.get_tracer(TRACER_NAME))
