"""OpenTelemetry tracing: one trace from the client's start through the workflow to its
activities, captured by an in-memory exporter on the time-skipping test server."""

from __future__ import annotations

import uuid
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from db.engine import open_database
from domain import names
from domain.models import ActionResult, PartnerAction, ReferralInput, ReferralSummary
from runtime import tracing
from runtime.smtp_sink import MailSink
from settings import Settings
from tests.factories import partner, referral
from tests.harness import Harness, harness_settings
from worker import build_worker


def test_tracing_is_off_without_an_otlp_endpoint() -> None:
    assert tracing.interceptors({}) == []
    assert not tracing.tracing_enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "})
    assert tracing.tracing_enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing.tracing_enabled({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1"})


def _parent_chain(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names_up: list[str] = []
    current: ReadableSpan | None = span
    while current is not None and current.parent is not None:
        current = by_id.get(current.parent.span_id)
        if current is not None:
            names_up.append(current.name)
    return names_up


async def test_one_trace_links_client_start_workflow_and_activities(
    temporal_env: WorkflowEnvironment, mail_sink: MailSink, tmp_path: Path
) -> None:
    exporter = InMemorySpanExporter()
    interceptor = tracing.install(SimpleSpanProcessor(exporter), {"OTEL_SERVICE_NAME": "test"})
    config = temporal_env.client.config()
    config["interceptors"] = [interceptor]
    client = Client(**config)
    database_url = f"sqlite+aiosqlite:///{tmp_path}/traced.db"
    settings = harness_settings(Settings(), database_url, mail_sink.port)
    engine, sessions = await open_database(database_url)
    try:
        worker = build_worker(client, settings, sessions)
        async with worker:
            h = Harness(temporal_env, settings, sessions, mail_sink, worker)
            await h.partners(partner("1001"))
            rid = f"FT-T-TRACE-{uuid.uuid4().hex[:6]}"
            handle = await client.start_workflow(
                names.WORKFLOW_REFERRAL,
                ReferralInput(referral(rid)),
                id=rid,
                task_queue=settings.task_queue,
                result_type=ReferralSummary,
            )
            who = await h.assigned(rid)
            for update in ("accept", "complete"):
                await handle.execute_update(
                    update, PartnerAction(partner=who, vas_sold=False), result_type=ActionResult
                )
            assert (await handle.result()).status == "completed"
    finally:
        await engine.dispose()

    spans = list(exporter.get_finished_spans())
    start = [s for s in spans if s.name == f"StartWorkflow:{names.WORKFLOW_REFERRAL}"]
    assert len(start) == 1
    trace_id = start[0].context.trace_id
    in_trace = [s for s in spans if s.context.trace_id == trace_id]
    by_id = {s.context.span_id: s for s in in_trace}
    run = [s for s in in_trace if s.name == f"RunWorkflow:{names.WORKFLOW_REFERRAL}"]
    assert run and all(s.parent and s.parent.span_id == start[0].context.span_id for s in run)

    activities = [s for s in in_trace if s.name.startswith("RunActivity:")]
    ran = {s.name.removeprefix("RunActivity:") for s in activities}
    assert {"match_partner", "publish_changes"} <= ran, ran
    for span in activities:  # RunActivity -> StartActivity (in the workflow) -> client start
        chain = _parent_chain(span, by_id)
        assert chain == [span.name.replace("Run", "Start", 1), start[0].name], chain
    assert all(s.resource.attributes.get("service.name") == "test" for s in in_trace)
