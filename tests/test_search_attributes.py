"""The Temporal UI as the control room: search attributes on the REAL dev server's visibility.

A real worker (tmp SQLite, the SMTP sink) runs referrals; the visibility API must find them by
the project's search attributes as they move pending → active → completed, and no customer
data may appear in a search attribute or the workflow id. `dev_server` and `dev_worker` are
shared with tests/test_schedules.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecution, WorkflowHandle
from temporalio.common import TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment

from db.directory import PartnerDirectory
from db.engine import open_database
from domain import names
from domain.models import ActionResult, PartnerAction, Referral, ReferralInput, ReferralSummary
from runtime.smtp_sink import MailSink
from runtime.temporal import start_dev_server
from settings import Settings
from tests.conftest import free_port
from tests.factories import partner, referral
from tests.harness import harness_settings
from worker import build_worker
from workflows import search_attributes as sa

pytestmark = pytest.mark.integration

VISIBILITY_TIMEOUT = 10.0


@asynccontextmanager
async def dev_server(state_dir: Path) -> AsyncIterator[WorkflowEnvironment]:
    """`temporal server start-dev` on free ports, state in `state_dir`, search attributes added."""
    settings = Settings(temporal_address=f"127.0.0.1:{free_port()}")
    env = await start_dev_server(settings, state_dir / "temporal.db", ui_port=free_port())
    try:
        yield env
    finally:
        await env.shutdown()


@dataclass
class DevWorker:
    client: Client
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]

    async def start(self, r: Referral) -> WorkflowHandle[Any, ReferralSummary]:
        return await self.client.start_workflow(
            names.WORKFLOW_REFERRAL,
            ReferralInput(r),
            id=r.referral_id,
            task_queue=self.settings.task_queue,
            result_type=ReferralSummary,
        )


@asynccontextmanager
async def dev_worker(
    env: WorkflowEnvironment, sink: MailSink, tmp_path: Path
) -> AsyncIterator[DevWorker]:
    """The project's worker (build_worker) on `env`, own task queue, fresh SQLite database."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'fasttrack.db'}"
    settings = harness_settings(Settings(), url, sink.port)
    engine, sessions = await open_database(url)
    try:
        async with build_worker(env.client, settings, sessions):
            yield DevWorker(env.client, settings, sessions)
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(scope="session")
async def dev_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkflowEnvironment]:
    async with dev_server(tmp_path_factory.mktemp("temporal-sa")) as env:
        yield env


@pytest_asyncio.fixture
async def w(
    dev_env: WorkflowEnvironment, mail_sink: MailSink, tmp_path: Path
) -> AsyncIterator[DevWorker]:
    async with dev_worker(dev_env, mail_sink, tmp_path) as worker:
        yield worker


async def find(client: Client, query: str) -> WorkflowExecution:
    """The one execution matching `query`, waiting for visibility to catch up."""
    deadline = time.monotonic() + VISIBILITY_TIMEOUT
    while True:
        found = [e async for e in client.list_workflows(query)]
        if len(found) == 1:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} executions match {query!r} after 10 s")
        await asyncio.sleep(0.2)


async def act(handle: WorkflowHandle[Any, Any], update: str, who: str, **fields: Any) -> None:
    await handle.execute_update(
        update, PartnerAction(partner=who, **fields), result_type=ActionResult
    )


def attribute_texts(attributes: TypedSearchAttributes) -> list[str]:
    texts = []
    for pair in attributes:
        value = pair.value
        texts += [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return texts


def assert_no_customer_data(
    r: Referral, workflow_id: str, attributes: TypedSearchAttributes
) -> None:
    c = r.customer
    secrets = [c.name, c.name.split()[0], c.contact_email, c.contact_email.split("@")[1]]
    secrets += [c.tenant_id] if c.tenant_id else []
    for text in [workflow_id, *attribute_texts(attributes)]:
        for secret in secrets:
            assert secret.lower() not in text.lower(), f"{secret!r} leaked into {text!r}"


async def test_search_attributes_follow_the_referral(w: DevWorker) -> None:
    await PartnerDirectory(w.sessions).upsert([partner("7001")], datetime.now(UTC))
    r = referral("FT-SA-000001", workloads=["teams", "intune"], active_usage={})
    handle = await w.start(r)
    rid = r.referral_id

    pending = await find(
        w.client,
        f'WorkflowId="{rid}" AND ReferralStatus="pending" AND PartnerId="7001"'
        ' AND SlaDueAt > "2000-01-01T00:00:00Z"',  # notified: the SLA clock runs
    )
    attrs = pending.typed_search_attributes
    assert attrs.get(sa.REFERRAL_TYPE) == "benefit"
    assert attrs.get(sa.CUSTOMER_COUNTRY) == "DE"
    assert sorted(attrs.get(sa.WORKLOADS) or []) == ["intune", "teams"]
    assert attrs.get(sa.ESCALATED) is False
    due = attrs.get(sa.SLA_DUE_AT)
    assert due is not None and due > datetime.now(UTC)
    assert attrs.get(sa.PARENT_REFERRAL) is None
    assert_no_customer_data(r, pending.id, pending.typed_search_attributes)
    by_partner = await find(w.client, 'PartnerId="7001" AND ExecutionStatus="Running"')
    assert by_partner.id == rid

    await act(handle, "accept", "7001")
    active = await find(w.client, f'WorkflowId="{rid}" AND ReferralStatus="active"')
    assert active.typed_search_attributes.get(sa.PARTNER_ID) == "7001"
    assert active.typed_search_attributes.get(sa.SLA_DUE_AT) is None
    assert_no_customer_data(r, active.id, active.typed_search_attributes)

    await act(handle, "contacted", "7001")
    await act(handle, "complete", "7001", vas_sold=False)
    await handle.result()
    done = await find(
        w.client,
        f'WorkflowId="{rid}" AND ReferralStatus="completed" AND ExecutionStatus="Completed"',
    )
    assert done.typed_search_attributes.get(sa.PARTNER_ID) is None
    assert done.typed_search_attributes.get(sa.ESCALATED) is False
    assert_no_customer_data(r, done.id, done.typed_search_attributes)
    described = await handle.describe()
    assert_no_customer_data(r, described.id, described.typed_search_attributes)


async def test_escalated_referral_is_flagged(w: DevWorker) -> None:
    r = referral("FT-SA-000002")  # empty directory: nobody is eligible
    await w.start(r)
    found = await find(
        w.client,
        f'WorkflowId="{r.referral_id}" AND Escalated=true AND ReferralStatus="escalated"',
    )
    assert found.typed_search_attributes.get(sa.PARTNER_ID) is None
    assert found.typed_search_attributes.get(sa.SLA_DUE_AT) is None
    assert_no_customer_data(r, found.id, found.typed_search_attributes)
