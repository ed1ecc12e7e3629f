"""The bare baseline: a Temporal workflow of the referral's shape with nothing of ours in it.

Two trivial activities (the first one's completion stands for "notification received"), then
`wait_condition` with a timeout (the SLA timer) until update `accept`, then another timed
wait until update `complete`. `extra_activities` adds trivial activities after the second
one and `local` runs them all as local activities, to build a baseline of the real pipeline's
shape.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

WORKFLOW_BARE = "BareReferral"
SLA = timedelta(days=2)


@dataclass
class BareInput:
    key: str
    extra_activities: int = 0
    local: bool = False  # run the activities as local activities


class FirstDone:
    """Where the first activity reports completion (same process as the driver)."""

    def __init__(self) -> None:
        self._futures: dict[str, asyncio.Future[float]] = {}

    def _future(self, key: str) -> asyncio.Future[float]:
        future = self._futures.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._futures[key] = future
        return future

    def mark(self, key: str) -> None:
        future = self._future(key)
        if not future.done():
            future.set_result(time.monotonic())

    async def wait(self, key: str) -> float:
        try:
            return await self._future(key)
        finally:
            self._futures.pop(key, None)


class BareActivities:
    def __init__(self, probe: FirstDone) -> None:
        self._probe = probe

    @activity.defn(name="bare_first")
    async def first(self, key: str) -> str:
        self._probe.mark(key)
        return key

    @activity.defn(name="bare_step")
    async def step(self, key: str) -> str:
        return key


@workflow.defn(name=WORKFLOW_BARE)
class BareWorkflow:
    def __init__(self) -> None:
        self._accepted = False
        self._completed = False

    @workflow.run
    async def run(self, inp: BareInput) -> str:
        options: dict[str, Any] = {"start_to_close_timeout": timedelta(seconds=30)}
        run = workflow.execute_local_activity if inp.local else workflow.execute_activity
        await run("bare_first", inp.key, **options)
        await run("bare_step", inp.key, **options)
        for _ in range(inp.extra_activities):
            await run("bare_step", inp.key, **options)
        try:
            await workflow.wait_condition(lambda: self._accepted, timeout=SLA / 2)
        except TimeoutError:
            return "expired"
        try:
            await workflow.wait_condition(lambda: self._completed, timeout=SLA)
        except TimeoutError:
            return "overdue"
        return "completed"

    @workflow.update
    def accept(self, partner: str) -> str:
        self._accepted = True
        return "accepted"

    @workflow.update
    def complete(self, partner: str) -> str:
        self._completed = True
        return "completed"


def build_bare_worker(client: Client, task_queue: str, probe: FirstDone, **options: Any) -> Worker:
    activities = BareActivities(probe)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[BareWorkflow],
        activities=[activities.first, activities.step],
        **options,
    )
