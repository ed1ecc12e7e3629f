"""The worker's Prometheus endpoint: SDK `temporal_*` metrics and the `fasttrack_*` counters.

A real worker (build_worker) runs on a client whose Runtime exports Prometheus on a free port,
against the time-skipping server; the endpoint is scraped over HTTP.

(The whole module is imported into the workflow sandbox because it defines `MetricsProbe`;
its imports are passed through.)
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import asyncio
    import socket
    import time
    import uuid
    from collections.abc import AsyncIterator
    from dataclasses import dataclass, replace
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from typing import Any

    import httpx
    import pytest
    import pytest_asyncio
    from prometheus_client.parser import text_string_to_metric_families
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.client import Client
    from temporalio.runtime import Runtime
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from activities import metrics as am
    from db.directory import PartnerDirectory
    from db.engine import open_database
    from runtime import metrics as rm
    from runtime.smtp_sink import MailSink
    from settings import Settings
    from tests.factories import partner
    from tests.harness import harness_settings
    from worker import build_worker
    from workflows import metrics as wm
    from workflows.scheduled import (
        WORKFLOW_PAUSE_SWEEP,
        WORKFLOW_WEEKLY_REPORT,
        PauseSweepResult,
        WeeklyReportResult,
    )


@workflow.defn(name="MetricsProbe")
class MetricsProbe:
    """Calls every workflow counter helper once (what the referral workflow calls)."""

    @workflow.run
    async def run(self) -> None:
        wm.assigned("benefit")
        wm.accepted("benefit")
        wm.declined("standard", "partner_at_capacity")
        wm.expired("benefit")
        wm.escalated("standard")


# ------------------------------------------------------------------------- METRICS_PORT


def test_metrics_port_default_disabled_and_explicit() -> None:
    assert rm.metrics_address({}) == "0.0.0.0:9464"
    assert rm.metrics_address({"METRICS_PORT": ""}) == "0.0.0.0:9464"
    assert rm.metrics_address({"METRICS_PORT": "9100"}) == "0.0.0.0:9100"
    for off in ("0", "off", "OFF", "false"):
        assert rm.metrics_address({"METRICS_PORT": off}) is None
    assert rm.runtime_from_env({"METRICS_PORT": "off"}) == (None, "")


@pytest.mark.parametrize("bad", ["abc", "-1", "70000", "9464x", "²", "0" * 5000 + "1"])
def test_metrics_port_malformed_is_one_line_error(bad: str) -> None:
    with pytest.raises(rm.MetricsUnavailable, match="METRICS_PORT"):
        rm.metrics_address({"METRICS_PORT": bad})


def test_taken_port_is_reported() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        with pytest.raises(rm.MetricsUnavailable, match="cannot serve metrics"):
            rm.prometheus_runtime(f"127.0.0.1:{taken}")


# ---------------------------------------------------------------------------- endpoint


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass
class Scraper:
    url: str

    async def samples(self) -> list[Sample]:
        async with httpx.AsyncClient(timeout=5) as http:
            response = await http.get(self.url)
        response.raise_for_status()
        return [
            Sample(s.name, dict(s.labels), s.value)
            for family in text_string_to_metric_families(response.text)
            for s in family.samples
        ]

    async def value(
        self, name: str, labels: dict[str, str] | None = None, timeout: float = 5.0
    ) -> float:
        """Sum of `name` over samples carrying `labels`, once it appears."""
        labels = labels or {}
        deadline = time.monotonic() + timeout
        while True:
            found = [
                s
                for s in await self.samples()
                if s.name in (name, f"{name}_total")
                and all(s.labels.get(k) == v for k, v in labels.items())
            ]
            if found:
                return sum(s.value for s in found)
            if time.monotonic() > deadline:
                raise AssertionError(f"no sample {name}{labels} on {self.url}")
            await asyncio.sleep(0.1)


@dataclass
class MetricsWorker:
    client: Client
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    scrape: Scraper

    async def run(self, workflow_name: str, result_type: Any = None) -> Any:
        return await self.client.execute_workflow(
            workflow_name,
            id=f"{workflow_name}-{uuid.uuid4().hex[:8]}",
            task_queue=self.settings.task_queue,
            result_type=result_type,
        )


@pytest.fixture(scope="module")
def metrics_runtime() -> tuple[Runtime, str]:
    address = f"127.0.0.1:{free_port()}"
    return rm.prometheus_runtime(address), f"http://{address}/metrics"


@pytest_asyncio.fixture
async def mw(
    temporal_env: WorkflowEnvironment,
    mail_sink: MailSink,
    tmp_path: Path,
    metrics_runtime: tuple[Runtime, str],
) -> AsyncIterator[MetricsWorker]:
    runtime, url = metrics_runtime
    client = await Client.connect(
        temporal_env.client.service_client.config.target_host, runtime=runtime
    )
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'fasttrack.db'}"
    settings = harness_settings(Settings(), db_url, mail_sink.port)
    engine, sessions = await open_database(db_url)
    mail_sink.clear()
    try:
        async with build_worker(client, settings, sessions):
            yield MetricsWorker(client, settings, sessions, Scraper(url))
    finally:
        await engine.dispose()


async def test_sdk_and_workflow_counters_are_served(mw: MetricsWorker) -> None:
    queue = f"{mw.settings.task_queue}-probe"
    async with Worker(mw.client, task_queue=queue, workflows=[MetricsProbe]):
        await mw.client.execute_workflow(
            "MetricsProbe", id=f"probe-{uuid.uuid4().hex[:8]}", task_queue=queue
        )
    probe = {"workflow_type": "MetricsProbe", "namespace": "default", "task_queue": queue}
    benefit = {**probe, "referral_type": "benefit"}
    standard = {**probe, "referral_type": "standard"}
    assert await mw.scrape.value(wm.ASSIGNMENTS, benefit) == 1
    assert await mw.scrape.value(wm.ACCEPTS, benefit) == 1
    capacity = {**standard, "reason": "partner_at_capacity"}
    assert await mw.scrape.value(wm.DECLINES, capacity) == 1
    assert await mw.scrape.value(wm.EXPIRIES, benefit) == 1
    assert await mw.scrape.value(wm.ESCALATIONS, standard) == 1
    assert await mw.scrape.value("temporal_workflow_completed", probe) >= 1
    names = {s.name for s in await mw.scrape.samples()}
    assert any(n.startswith("temporal_workflow_task_execution_latency") for n in names)


async def test_pause_sweep_and_report_emails_are_counted(mw: MetricsWorker) -> None:
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    await PartnerDirectory(mw.sessions).upsert(
        [partner("9001", paused_until=yesterday)], datetime.now(UTC)
    )
    before = await _value_or_zero(mw.scrape, wm.PARTNERS_RESUMED)
    swept = await mw.run(WORKFLOW_PAUSE_SWEEP, PauseSweepResult)
    assert swept.resumed == ["9001"]
    assert await mw.scrape.value(wm.PARTNERS_RESUMED) == before + 1

    sent = await mw.run(WORKFLOW_WEEKLY_REPORT, WeeklyReportResult)
    assert sent.status == "sent"
    tq = {"task_queue": mw.settings.task_queue}
    assert await mw.scrape.value(am.EMAILS_SENT, {**tq, "kind": "weekly_report"}) == 1
    assert await mw.scrape.value("temporal_activity_execution_latency_count", tq) >= 2


async def test_failed_email_is_counted(mw: MetricsWorker) -> None:
    # a second worker whose OPS_EMAIL is unusable: the report fails permanently
    queue = f"{mw.settings.task_queue}-bad"
    settings = replace(mw.settings, ops_email="nobody", task_queue=queue)
    async with build_worker(mw.client, settings, mw.sessions):
        failed = await mw.client.execute_workflow(
            WORKFLOW_WEEKLY_REPORT,
            id=f"report-bad-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            result_type=WeeklyReportResult,
        )
    assert failed.status == "failed" and "invalid recipient" in failed.error
    labels = {"kind": "weekly_report", "task_queue": queue}
    assert await mw.scrape.value(am.EMAILS_FAILED, labels) == 1


async def _value_or_zero(scrape: Scraper, name: str) -> float:
    try:
        return await scrape.value(name, None, timeout=0)
    except AssertionError:
        return 0.0
