"""A real referral worker (real activities, real database, real SMTP peer) on a Temporal
test environment, plus helpers to drive and observe referrals."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from db.directory import PartnerDirectory
from domain import names
from domain.models import (
    ActionResult,
    OperatorAction,
    PartnerAction,
    PartnerProfile,
    Referral,
    ReferralInput,
    ReferralState,
    ReferralSummary,
)
from runtime.smtp_sink import MailSink
from settings import Settings


@dataclass
class Harness:
    env: WorkflowEnvironment
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    sink: MailSink
    worker: Worker
    suffix: str = ""  # makes referral ids unique per test on the shared test server
    started: list[str] = field(default_factory=list)
    own_client: Client | None = None  # e.g. with the worker's encrypting converter

    @property
    def client(self) -> Client:
        return self.own_client or self.env.client

    async def partners(self, *profiles: PartnerProfile) -> None:
        await PartnerDirectory(self.sessions).upsert(list(profiles), datetime.now(UTC))

    async def start(self, referral: Referral) -> WorkflowHandle[Any, Any]:
        if self.suffix:
            referral = replace(referral, referral_id=f"{referral.referral_id}-{self.suffix}")
        self.started.append(referral.referral_id)
        return await self.client.start_workflow(
            names.WORKFLOW_REFERRAL,
            ReferralInput(referral),
            id=referral.referral_id,
            task_queue=self.settings.task_queue,
            result_type=ReferralSummary,
        )

    async def cleanup(self) -> None:
        """Terminate what the test left running: on the shared time-skipping server, a
        workflow with no worker would hold time still for the next test."""
        ids = list(self.started)
        for wid in self.started:
            with contextlib.suppress(Exception):
                state = await asyncio.wait_for(self.state(wid), 5)
                ids += [p.workflow_id for p in state.parts]
        for wid in ids:
            with contextlib.suppress(Exception):
                handle = self.client.get_workflow_handle(wid)
                await asyncio.wait_for(handle.terminate("test finished"), 5)

    async def state(self, handle: WorkflowHandle[Any, Any] | str) -> ReferralState:
        if isinstance(handle, str):
            handle = self.client.get_workflow_handle(handle)
        return await handle.query(names.QUERY_DETAILS, result_type=ReferralState)

    async def until(
        self,
        handle: WorkflowHandle[Any, Any] | str,
        check: Callable[[ReferralState], bool],
        timeout: float = 15.0,
    ) -> ReferralState:
        """Poll the workflow's state (in real time) until `check` holds."""
        deadline = time.monotonic() + timeout
        while True:
            state = await self.state(handle)
            if check(state):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; last state: {state.status} {state.history}")
            await asyncio.sleep(0.05)

    async def assigned(self, handle: WorkflowHandle[Any, Any] | str, seq: int = 1) -> str:
        state = await self.until(
            handle,
            lambda s: len(s.assignments) >= seq and s.assignments[seq - 1].due_at is not None,
        )
        return state.assignments[seq - 1].partner

    async def act(
        self, handle: WorkflowHandle[Any, Any], update: str, partner: str, **fields: Any
    ) -> ActionResult:
        return await handle.execute_update(
            update, PartnerAction(partner=partner, **fields), result_type=ActionResult
        )

    async def operate(
        self, handle: WorkflowHandle[Any, Any], update: str, reason: str = ""
    ) -> ActionResult:
        return await handle.execute_update(
            update, OperatorAction(update, reason), result_type=ActionResult
        )

    def mails(self, kind_in_subject: str = "", to: str = "") -> list[EmailMessage]:
        found = []
        for msg in self.sink.messages:
            if kind_in_subject and kind_in_subject not in str(msg["Subject"]):
                continue
            if to and to not in str(msg["To"]):
                continue
            found.append(msg)
        return found

    async def wait_mail(
        self, check: Callable[[EmailMessage], bool], timeout: float = 10.0
    ) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in self.sink.messages:
                if check(msg):
                    return msg
            await asyncio.sleep(0.05)
        raise AssertionError("expected email did not arrive")


def harness_settings(base: Settings, database_url: str, smtp_port: int) -> Settings:
    return replace(
        base,
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_timeout=10.0,
        task_queue=f"test-{uuid.uuid4().hex[:8]}",
        webhook_allow_insecure=True,  # local webhook receivers (http, 127.0.0.1)
    )
